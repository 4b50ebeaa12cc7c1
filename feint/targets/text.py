"""What text targets share: samples as strings, a tokenizer and vocabulary, and the torch
module an open-box text target exposes.

A text target's samples are strings (``X`` is a one-dimensional object array of ``str``)
and its ``predict`` takes a sequence of strings and returns class probabilities. An
open-box text target's :meth:`~feint.targets.base.Target.torch_module` returns a
:class:`TextModule`: it turns texts into token ids (:meth:`TextModule.encode`), ids into
vectors through its embedding layer (:attr:`TextModule.embedding`), and vectors into
logits (:meth:`TextModule.forward_embedded`), so gradient attacks reach the embeddings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from feint.errors import FeintError
from feint.textdiff import as_text

__all__ = ["tokenize", "Vocabulary", "as_texts", "text_array", "TextModule", "PAD", "UNK"]

PAD, UNK = 0, 1
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-case ASCII word tokens (``don't`` is one); HTML line breaks are spaces. A
    character outside ``a-z0-9'`` splits a word, as a look-alike letter does to a real
    tokenizer's vocabulary lookup."""
    return _TOKEN.findall(_BREAK.sub(" ", text).lower())


def as_texts(x: Any) -> list[str]:
    """A batch of samples as a list of ``str`` (an array of strings, a list, one string)."""
    if isinstance(x, str):
        return [x]
    if isinstance(x, np.ndarray) and x.dtype.kind not in "OUS":
        raise FeintError(f"a text target takes strings; got an array of {x.dtype}")
    return [as_text(v) for v in list(x)]


def text_array(texts: Iterable[Any]) -> np.ndarray:
    """Samples as a text target holds them: a one-dimensional object array of ``str``."""
    items = [as_text(t) for t in texts]
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


class Vocabulary:
    """Token -> id: 0 pads, 1 is every token outside the vocabulary."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = ["<pad>", "<unk>", *tokens]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], size: int, min_count: int = 2) -> Vocabulary:
        counts = Counter(tok for text in texts for tok in tokenize(text))
        common = [t for t, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
        return cls(common[:size])

    def __len__(self) -> int:
        return len(self.tokens)

    def ids(self, text: str) -> list[int]:
        return [self.index.get(t, UNK) for t in tokenize(text)]


class TextModule:
    """The interface of an open-box text target's module (see the module doc): a
    ``torch.nn.Module`` with ``embedding`` (an ``nn.Embedding``), ``vocab`` (a
    :class:`Vocabulary`), ``encode(texts) -> (ids (N, L), mask (N, L))`` and
    ``forward_embedded(vectors (N, L, D), mask) -> logits``; ``forward(ids, mask)`` is the two
    together. Documented here; :class:`feint.targets.textmodels.MeanEmbeddingClassifier` is one."""
