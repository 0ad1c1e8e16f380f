"""The transformer models' tokenizer, shared by training, the service and the batch script: the
Hugging Face `tokenizers` library reading the model's own tokenizer.json (BERT WordPiece, lower
case, [CLS] ... [SEP]). Truncation and padding are decided here, once:

- truncation at MAX_TOKENS (256, the sentence-transformers setting of the model) keeping [CLS] and
  [SEP];
  a text that was cut is said to be (`truncated`), never cut silently;
- padding with 0 ([PAD]) to the longest text of the batch: the graph masks ids 0 out.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from preprocessing.text import PAD, Encoded

MAX_TOKENS = 256


class TransformerTokenizer:
    def __init__(self, path: Path, max_tokens: int = MAX_TOKENS):
        from tokenizers import Tokenizer

        self.path = Path(path)
        self.max_length = max_tokens
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()  # cut here, so that a cut is known
        self.size = self.tokenizer.get_vocab_size()

    def encode_texts(self, texts: Sequence[str]) -> Encoded:
        encodings = self.tokenizer.encode_batch(list(texts))
        rows, truncated = [], []
        for encoding in encodings:
            ids = encoding.ids
            truncated.append(len(ids) > self.max_length)
            if truncated[-1]:
                ids = ids[: self.max_length - 1] + ids[-1:]  # keep [SEP] last
            rows.append(ids)
        width = max(len(row) for row in rows)
        batch = np.full((len(rows), width), PAD, dtype=np.int32)
        for i, row in enumerate(rows):
            batch[i, : len(row)] = row
        return Encoded(batch, [len(encoding.ids) for encoding in encodings], truncated)

    def encode(self, text: str) -> np.ndarray:
        return self.encode_texts([text]).ids[0]
