"""The shared tokenizer: table tests of normalisation and encoding."""
from __future__ import annotations

import numpy as np
import pytest

from preprocessing.text import OOV, PAD, Tokenizer, tokens


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I LOVE it!!", ["i", "love", "it", "!", "!"]),
        ("don't  &amp; won\u2019t", ["don't", "won't"]),
        ("see https://t.co/abc www.x.com now", ["see", "<url>", "<url>", "now"]),
        ("@united thanks", ["<user>", "thanks"]),
        ("#driverless cars in 2nd place, 3.5 stars", ["driverless", "cars", "in", "<num>", "place", "<num>", "stars"]),
        ("great 😀👍", ["great", "😀", "👍"]),
        ("Привет мир 日本語", ["привет", "мир", "日本語"]),
        ("   ", []),
        ("", []),
    ],
)
def test_tokens(text, expected):
    assert tokens(text) == expected


def test_build_orders_by_frequency_and_drops_rare_tokens():
    tokenizer = Tokenizer.build(["good good bad", "good bad rare"], min_count=2)
    assert tokenizer.vocabulary == ["good", "bad"] and tokenizer.size == 4


def test_encode_pads_truncates_and_marks_unknown_words():
    tokenizer = Tokenizer(["good", "bad"], max_length=4)
    assert tokenizer.encode("good unknown bad").tolist() == [2, OOV, 3, PAD]
    assert tokenizer.encode("good " * 10).tolist() == [2, 2, 2, 2]
    assert tokenizer.encode("").tolist() == [PAD] * 4
    assert tokenizer.encode("x").dtype == np.int32


def test_save_and_load_round_trip(tmp_path):
    original = Tokenizer(["ça", "va", "😀"], max_length=6)
    original.save(tmp_path / "vocab.json")
    loaded = Tokenizer.load(tmp_path / "vocab.json")
    assert loaded.vocabulary == original.vocabulary and loaded.max_length == 6
    assert loaded.encode("ça va 😀").tolist() == original.encode("ça va 😀").tolist()
