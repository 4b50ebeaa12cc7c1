"""Text transformations as a search attack: the changes augmentation libraries make to
text (AugLy's text set: punctuation inserted, case changed, contractions expanded or
formed, words split), placed where they matter most.

``text.transform`` uses the word-importance greedy search of :mod:`feint.attacks.text.base`
with one ``kind`` of change; ``fixed: true`` instead applies that change to the
``max_words`` most important words at once and checks the result (a fixed-strength
transformation: one ranking pass and one query).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from feint.attacks.base import AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Bool, Choice
from feint.attacks.text.base import Doc, GreedyWordAttack, Objective, match_case

__all__ = ["Transform", "CONTRACTIONS"]

PUNCTUATION = ".,-'*_"
# Contraction -> its expansion; a word in either column is changed into the other.
CONTRACTIONS = {
    "aren't": "are not",
    "can't": "cannot",
    "couldn't": "could not",
    "didn't": "did not",
    "doesn't": "does not",
    "don't": "do not",
    "hadn't": "had not",
    "hasn't": "has not",
    "haven't": "have not",
    "he's": "he is",
    "i'm": "i am",
    "i've": "i have",
    "isn't": "is not",
    "it's": "it is",
    "let's": "let us",
    "she's": "she is",
    "shouldn't": "should not",
    "that's": "that is",
    "there's": "there is",
    "they're": "they are",
    "wasn't": "was not",
    "we're": "we are",
    "weren't": "were not",
    "what's": "what is",
    "won't": "will not",
    "wouldn't": "would not",
    "you're": "you are",
}
_FORMS = {"cannot": "can't"}


class Transform(GreedyWordAttack):
    """Augmentation-style changes (punctuation, case, contractions, split words) where they matter most."""

    name = "text.transform"
    reference = "Papakipos and Bitton 2022, AugLy: Data Augmentations for Robustness (the text augmentations)"
    kind = Choice(
        "punctuation",
        "the change: a punctuation mark inside the word, its case changed, a contraction expanded (or "
        "`cannot` contracted), or the word split in two",
        choices=("punctuation", "case", "contractions", "split"),
    )
    fixed = Bool(False, "change the max_words most important words at once (one query) instead of searching")

    def eligible(self, word: str, p: dict[str, Any]) -> bool:
        if p["kind"] == "contractions":
            return word.lower() in CONTRACTIONS or word.lower() in _FORMS
        return len(word) >= max(2, p["min_word_length"])

    def candidates(self, word: str, rng: np.random.Generator, p: dict[str, Any]) -> list[str]:
        kind = p["kind"]
        if kind == "contractions":
            low = word.lower()
            return [match_case(word, CONTRACTIONS.get(low) or _FORMS[low])]
        if kind == "case":
            flips = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in word)
            return [w for w in dict.fromkeys([word.upper(), word.lower(), word.swapcase(), flips]) if w != word]
        if kind == "split":
            middle = sorted(range(1, len(word)), key=lambda j: (abs(2 * j - len(word)), j))
            return [word[:j] + " " + word[j:] for j in middle]
        marks = [PUNCTUATION[int(k)] for k in rng.permutation(len(PUNCTUATION))]
        spots = [int(j) for j in rng.permutation(np.arange(1, len(word)))]
        return [word[:j] + m + word[j:] for j, m in zip(spots * len(marks), marks * max(1, len(spots)))][:8]

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        if not p["fixed"]:
            return super().generate(model, batch, p)
        texts = list(batch.texts or ())
        docs = [Doc.of(t) for t in texts]
        objective = Objective(batch)
        cap = p["max_queries"] or None
        spent = np.zeros(len(texts), np.int64)

        def left(i: int) -> float:
            return float("inf") if cap is None else float(cap - spent[i])

        def score(items: list[tuple[int, str]]) -> np.ndarray:
            owners = np.asarray([i for i, _ in items], np.int64)
            np.add.at(spent, owners, 1)
            return model.text_probs([t for _, t in items], rows=owners)

        orders = self.rank(model, docs, objective, p, left, score)
        for i, doc in enumerate(docs):
            rng = np.random.default_rng([batch.seed, int(batch.indices[i]) if batch.indices is not None else i])
            for pos in orders[i][: p["max_words"]]:
                options = self.candidates(doc.words[pos], rng, p)
                if options:
                    doc.set(pos, options[0])
        return AttackOutput(x_adv=torch.zeros(0), texts=[d.render() for d in docs])
