"""The numpy reader of legacy torch state_dicts: real weights read, code never run."""
from __future__ import annotations

import pickle

import pytest

from training.efficientnet_lite0 import weights_path
from training.torch_state_dict import LEGACY_MAGIC, load_legacy_state_dict


def test_reads_the_real_efficientnet_lite0_weights():
    weights = load_legacy_state_dict(weights_path())
    assert len(weights) == 296
    assert weights["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert weights["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert weights["_fc.weight"].shape == (1000, 1280) and str(weights["_fc.weight"].dtype) == "float32"


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("where", ["magic number", "protocol version", "sys info", "state_dict", "storage keys"])
def test_refuses_globals_a_state_dict_does_not_need_in_any_of_its_pickles(tmp_path, where):
    parts = {"magic number": LEGACY_MAGIC, "protocol version": 1001, "sys info": {}, "state_dict": {},
             "storage keys": []}
    parts[where] = Evil() if where != "state_dict" else {"x": Evil()}
    path = tmp_path / "evil.pth"
    with open(path, "wb") as handle:
        for part in parts.values():
            pickle.dump(part, handle)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        load_legacy_state_dict(path)


def test_rejects_files_that_are_not_legacy_torch(tmp_path):
    path = tmp_path / "other.pth"
    path.write_bytes(pickle.dumps(42))
    with pytest.raises(ValueError, match="magic number"):
        load_legacy_state_dict(path)
