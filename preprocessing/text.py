"""The text tokenizer shared by training and serving (stdlib + numpy only).

Normalisation, in order: HTML entities unescaped (&amp; -> &), Unicode NFKC, lower case,
URLs -> <url>, @mentions -> <user>, numbers -> <num>, '#' dropped from hashtags.
Tokens: words (letters of any script, with an inner apostrophe: don't), the placeholders,
'!' and '?', and each emoji or symbol character. Other punctuation is dropped.
Ids: 0 padding, 1 out-of-vocabulary, then the vocabulary by descending training frequency.
Sequences are truncated to, and padded at the end up to, a fixed length.
"""
from __future__ import annotations

import collections
import html
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

PAD, OOV = 0, 1
MAX_LENGTH = 48
URL = re.compile(r"https?://\S+|www\.\S+")
MENTION = re.compile(r"@\w+")
NUMBER = re.compile(r"\b\d+(?:[.,:]\d+)*(?:st|nd|rd|th|s)?\b")
TOKEN = re.compile(r"<url>|<user>|<num>|[^\W\d_]+(?:'[^\W\d_]+)?|[!?]|[^\w\s\x00-\x7f]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", html.unescape(text)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = URL.sub(" <url> ", text)
    text = MENTION.sub(" <user> ", text)
    return NUMBER.sub(" <num> ", text)


def tokens(text: str) -> list[str]:
    return TOKEN.findall(normalise(text))


@dataclass(frozen=True)
class Encoded:
    """A batch of texts as ids int32 [N, L] padded with PAD, each text's token count before any cut,
    and which texts were cut to the tokenizer's length (said in the answer, never silently)."""

    ids: np.ndarray
    lengths: list[int]
    truncated: list[bool]


class Tokenizer:
    def __init__(self, vocabulary: list[str], max_length: int = MAX_LENGTH):
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.index = {token: i + 2 for i, token in enumerate(vocabulary)}

    @property
    def size(self) -> int:
        """Number of ids, padding and OOV included."""
        return len(self.vocabulary) + 2

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int = 20_000, min_count: int = 2,
              max_length: int = MAX_LENGTH) -> "Tokenizer":
        counts = collections.Counter(token for text in texts for token in tokens(text))
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(ranked[:max_size], max_length)

    def encode(self, text: str) -> np.ndarray:
        return self._ids(tokens(text))

    def _ids(self, words: list[str]) -> np.ndarray:
        ids = [self.index.get(token, OOV) for token in words[: self.max_length]]
        return np.asarray(ids + [PAD] * (self.max_length - len(ids)), dtype=np.int32)

    def encode_batch(self, texts: Iterable[str]) -> np.ndarray:
        return np.stack([self.encode(text) for text in texts])

    def encode_texts(self, texts: Iterable[str]) -> Encoded:
        """The serving form: ids, and which texts had more tokens than the model reads."""
        words = [tokens(text) for text in texts]
        lengths = [len(w) for w in words]
        return Encoded(np.stack([self._ids(w) for w in words]), lengths, [n > self.max_length for n in lengths])

    def to_json(self) -> bytes:
        """What vocab.json holds (written beside model.onnx)."""
        return (json.dumps({"max_length": self.max_length, "pad": PAD, "oov": OOV, "vocabulary": self.vocabulary},
                           ensure_ascii=False) + "\n").encode("utf-8")

    def save(self, path: Path) -> None:
        path.write_bytes(self.to_json())

    @classmethod
    def load(cls, path: Path) -> "Tokenizer":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(data["vocabulary"], data["max_length"])
