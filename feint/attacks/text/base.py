"""What every text attack shares: documents of editable words, the budget options, and
the batched greedy search of word-importance attacks.

A text attack works on strings. The base class turns a batch's samples into
:class:`Doc` objects (the text cut into words, runs of ASCII letters, and what lies
between them, kept exactly), and an attack proposes replacements for single words. The
search (:meth:`GreedyWordAttack.generate`) is the one of DeepWordBug and TextFooler:

1. *Importance*: each word of each sample is deleted in turn and every such text of every
   sample of the batch is scored in one model call; a word matters as much as its deletion
   brings the model towards the goal.
2. *Greedy substitution*: words are visited from the most important; at each step every
   candidate replacement of the current word of every active sample is scored in one
   model call, and the best is kept when it brings the model closer to the goal than the
   text it replaces. A sample stops when the model's label is adversarial, when
   ``max_words`` words are changed, or when its query budget is spent.

Queries: every text scored is one forward query of its sample; ``max_queries`` caps each
sample's own (the runner's first and last prediction come on top), and a step that would
go over it scores fewer candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Bool, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED

__all__ = ["Doc", "TextAttack", "GreedyWordAttack", "WORD", "restore"]

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@dataclass
class Doc:
    """A text cut into words (runs of ASCII letters, with an inner apostrophe) and the gaps
    between them, kept exactly; words are replaced by position.

    The current text and where each word lies in it are kept up to date by :meth:`set`, so
    a candidate with one word replaced is two slices and the word (a search renders
    thousands of candidates of each text and changes few words)."""

    text: str
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    current: str = ""
    at: list[int] = field(default_factory=list)  # where each current word starts in ``current``

    @classmethod
    def of(cls, text: str) -> Doc:
        doc = cls(text, current=text)
        for m in WORD.finditer(text):
            doc.starts.append(m.start())
            doc.ends.append(m.end())
            doc.words.append(m.group())
        doc.at = list(doc.starts)
        return doc

    def render(self, replace: dict[int, str] | None = None) -> str:
        """The text with the current words (and ``replace``: position -> word on top)."""
        if not replace:
            return self.current
        parts, last = [], 0
        for i in sorted(replace):
            start = self.at[i]
            parts.append(self.current[last:start])
            parts.append(replace[i])
            last = start + len(self.words[i])
        parts.append(self.current[last:])
        return "".join(parts)

    def starts_sentence(self, pos: int) -> bool:
        """Whether the word at ``pos`` opens the text, a sentence or a line."""
        before = self.text[self.ends[pos - 1] : self.starts[pos]] if pos > 0 else ""
        return pos == 0 or any(mark in before for mark in '.!?:;\n"') or ">" in before

    def original(self, pos: int) -> str:
        """The word at ``pos`` as the text had it."""
        return self.text[self.starts[pos] : self.ends[pos]]

    def set(self, pos: int, word: str) -> None:
        start, old = self.at[pos], self.words[pos]
        self.current = self.current[:start] + word + self.current[start + len(old) :]
        shift = len(word) - len(old)
        if shift:
            for k in range(pos + 1, len(self.at)):
                self.at[k] += shift
        self.words[pos] = word
        if word == self.original(pos):
            self.changed.discard(pos)
        else:
            self.changed.add(pos)


def match_case(template: str, word: str) -> str:
    """``word`` in the case pattern of ``template`` (all capitals, capitalised, or lower)."""
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


MAX_WORDS = Int(10, "most words changed per sample", low=1, high=10_000)
MAX_QUERIES = Int(
    2000,
    "most model queries per sample spent by the attack (the runner's first and last prediction come on top); 0: no cap",
    low=0,
    high=10**9,
)
MIN_WORD_LENGTH = Int(2, "shortest word the attack changes, in letters", low=1, high=100)
RESTORE = Bool(
    True,
    "once a sample's label turns, put back each changed word whose original keeps it turned "
    "(one query a changed word, within max_queries; a fixed transform keeps its changes)",
)


class TextAttack(Attack):
    """Base of the attacks on text targets: ``generate`` returns the adversarial texts."""

    framework: ClassVar[str] = "text"
    access: ClassVar[str] = CLOSED_BOX
    data_types: ClassVar[tuple[str, ...]] = ("text",)

    @classmethod
    def stops(cls) -> bool:
        """No distance trajectory: a text attack's budgets are its own (``max_queries``,
        ``max_words``), and its distances are counted in words, not in a norm."""
        return False

    def __call__(self, model: CountedModel, batch: Batch) -> AttackOutput:
        p = self.options.as_dict()
        out = self.generate(model, batch, p)
        if out.texts is None or len(out.texts) != len(batch.texts or ()):
            raise RuntimeError(f"{self.name} returned no adversarial text for some samples")
        return out


def best_candidates(owners: np.ndarray, values: np.ndarray, reached: np.ndarray) -> dict[int, int]:
    """Per sample, the row of its best candidate: an adversarial one wins, and among equals
    the better objective (the first of ties)."""
    best: dict[int, int] = {}
    for row, i in enumerate(owners.tolist()):
        key = (bool(reached[row]), values[row])
        if i not in best or key > (bool(reached[best[i]]), values[best[i]]):
            best[i] = row
    return best


class Objective:
    """How close the model is to the goal, per row: the target class's probability when
    targeted, else one minus the original label's; and whether a row is adversarial."""

    def __init__(self, batch: Batch):
        self.labels = batch.labels.numpy()
        self.targets = None if batch.targets is None else batch.targets.numpy()

    def value(self, probs: np.ndarray, owners: np.ndarray) -> np.ndarray:
        if self.targets is not None:
            return probs[np.arange(len(owners)), self.targets[owners]]
        return 1.0 - probs[np.arange(len(owners)), self.labels[owners]]

    def reached(self, probs: np.ndarray, owners: np.ndarray) -> np.ndarray:
        pred = probs.argmax(1)
        if self.targets is not None:
            return pred == self.targets[owners]
        return pred != self.labels[owners]


class GreedyWordAttack(TextAttack):
    """Base of the word-importance attacks (see the module doc); subclasses propose
    replacements for one word (:meth:`candidates`) and may skip words (:meth:`eligible`)."""

    targeted = TARGETED
    target_labels = TARGET_LABELS
    max_words = MAX_WORDS
    max_queries = MAX_QUERIES
    min_word_length = MIN_WORD_LENGTH
    restore = RESTORE
    # Importance by deleting the word (DeepWordBug's "replace-1" score, TextFooler's deletion).
    # Subclasses that rank by their own scores set this False and override rank().
    delete_rank: ClassVar[bool] = True

    def candidates(self, word: str, rng: np.random.Generator, p: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def eligible(self, word: str, p: dict[str, Any]) -> bool:
        return len(word) >= p["min_word_length"]

    def eligible_at(self, doc: Doc, pos: int, p: dict[str, Any]) -> bool:
        """Whether the word at ``pos`` of ``doc`` may change (default: :meth:`eligible`)."""
        return self.eligible(doc.words[pos], p)

    # -- the search ------------------------------------------------------------------------
    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        texts = list(batch.texts or ())
        n = len(texts)
        docs = [Doc.of(t) for t in texts]
        objective = Objective(batch)
        cap = p["max_queries"] or None
        spent = np.zeros(n, np.int64)
        rngs = [np.random.default_rng([batch.seed, int(i)]) for i in _sample_keys(batch, n)]
        notes: list[str | None] = [None] * n

        def left(i: int) -> float:
            return float("inf") if cap is None else cap - spent[i]

        def score(items: list[tuple[int, str]]) -> np.ndarray:
            if not items:
                return np.zeros((0, model.num_classes))
            owners = np.asarray([i for i, _ in items], np.int64)
            np.add.at(spent, owners, 1)
            return model.text_probs([t for _, t in items], rows=owners)

        # The current texts' scores (one query each), so a change is kept only when it helps.
        current = np.full(n, -np.inf)
        done = np.zeros(n, bool)
        first = [i for i in range(n) if left(i) >= 1]
        if first:
            probs = score([(i, texts[i]) for i in first])
            owners = np.asarray(first)
            current[owners] = objective.value(probs, owners)
            done[owners] = objective.reached(probs, owners)
        orders = self.rank(model, docs, objective, p, left, score)
        step = [0] * n
        while True:
            items: list[tuple[int, str]] = []
            proposals: list[tuple[int, int, str]] = []  # sample, position, word
            for i in range(n):
                if done[i] or len(docs[i].changed) >= p["max_words"]:
                    continue
                while step[i] < len(orders[i]) and left(i) >= 1:
                    pos = orders[i][step[i]]
                    step[i] += 1
                    word = docs[i].words[pos]
                    cands = [c for c in dict.fromkeys(self.candidates(word, rngs[i], p)) if c != word]
                    cands = cands[: int(min(len(cands), left(i)))]
                    if cands:
                        for c in cands:
                            items.append((i, docs[i].render({pos: c})))
                            proposals.append((i, pos, c))
                        break
            if not items:
                break
            probs = score(items)
            owners = np.asarray([i for i, _ in items], np.int64)
            values = objective.value(probs, owners)
            reached = objective.reached(probs, owners)
            for i, row in best_candidates(owners, values, reached).items():
                if reached[row] or values[row] > current[i]:
                    _, pos, word = proposals[row]
                    docs[i].set(pos, word)
                    current[i] = values[row]
                    done[i] = bool(reached[row])
        if p["restore"]:
            restore(docs, done, left, score, objective)
        for i in range(n):
            if not done[i] and not docs[i].words:
                notes[i] = "the text has no words the attack can change"
            elif not done[i] and cap is not None and spent[i] >= cap:
                notes[i] = f"its query budget (max_queries={cap}) ran out"
        out_texts = [d.render() for d in docs]
        return AttackOutput(x_adv=torch.zeros(0), texts=out_texts, notes=notes)

    def rank(self, model, docs, objective, p, left, score) -> list[list[int]]:
        """Per sample, the eligible word positions from the most important (see the module
        doc); a sample whose budget cannot score every word ranks those it can, in order."""
        items: list[tuple[int, str]] = []
        where: list[tuple[int, int]] = []
        orders: list[list[int]] = []
        for i, doc in enumerate(docs):
            positions = [k for k in range(len(doc.words)) if self.eligible_at(doc, k, p)]
            orders.append(positions)
            if not self.delete_rank:
                continue
            budget = left(i) - 1  # keep one query for a substitution
            for k in positions[: int(max(0, min(len(positions), budget)))]:
                items.append((i, doc.render({k: ""})))
                where.append((i, k))
        if not items:
            return orders
        probs = score(items)
        owners = np.asarray([i for i, _ in items], np.int64)
        values = objective.value(probs, owners)
        importance: dict[int, dict[int, float]] = {}
        for (i, k), v in zip(where, values):
            importance.setdefault(i, {})[k] = float(v)
        for i, imp in importance.items():
            ranked = sorted(imp, key=lambda k: (-imp[k], k))
            orders[i] = ranked + [k for k in orders[i] if k not in imp]
        return orders


def restore(docs: list[Doc], done: np.ndarray, left, score, objective: Objective) -> None:
    """Put back the changed words an adversarial text does not need: in rounds, each turned
    sample tries its next changed word (in the order of the text) restored, every sample's
    try scored in one model call, and keeps it restored when the label stays turned. One
    query a changed word, while the sample's budget lasts."""
    queue = {i: sorted(docs[i].changed) for i in range(len(docs)) if done[i] and docs[i].changed}
    while True:
        items: list[tuple[int, str]] = []
        tries: list[tuple[int, int]] = []
        for i, todo in queue.items():
            if todo and left(i) >= 1:
                pos = todo.pop(0)
                items.append((i, docs[i].render({pos: docs[i].original(pos)})))
                tries.append((i, pos))
        if not items:
            return
        probs = score(items)
        owners = np.asarray([i for i, _ in items], np.int64)
        for row, keep in enumerate(objective.reached(probs, owners)):
            if keep:
                i, pos = tries[row]
                docs[i].set(pos, docs[i].original(pos))


def _sample_keys(batch: Batch, n: int) -> list[int]:
    """Per row, what its random draws depend on: the sample's index in the target, so a
    sample gets the same draws whatever batch or unit it runs in."""
    if batch.indices is not None:
        return [int(i) for i in batch.indices]
    return list(range(n))
