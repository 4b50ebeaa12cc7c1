"""Word-level closed-box attack: synonym substitution (PWWS, and TextFooler's search).

Synonyms come from WordNet 3.0 (:mod:`feint.attacks.text.lexicon`), in the case of the
word they replace: those of the word's most frequent senses in its most frequent part of
speech, that have the same part of speech (WordNet's sense counts stand in for a tagger,
which nothing offline provides). Stop words (scikit-learn's list), words shorter than
``min_word_length`` and, with ``keep_names``, capitalised words inside a sentence (names)
are never replaced.

``search``:

- ``pwws`` (Ren et al. 2019): each word's saliency is how much the model moves towards
  the goal when the word is replaced by an unknown one; each word's best synonym is found
  (every synonym of every word of the batch scored in one model call); words are then
  replaced in the order of ``softmax(saliency) * best improvement``, one query per step,
  until the label turns or ``max_words`` words are replaced. A replacement is kept when
  it brings the model closer to the goal in the text as it then stands (the paper keeps
  every one; one that moves the model away only spends a word of ``max_words``). With
  ``rescore``, each step scores all the word's synonyms in the current text instead.
- ``greedy`` (TextFooler's, Jin et al. 2020): words ranked by deleting them, then the
  greedy substitution of :mod:`feint.attacks.text.base`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from feint.attacks.base import AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Bool, Choice, Int
from feint.attacks.text import lexicon
from feint.attacks.text.base import Doc, GreedyWordAttack, Objective, best_candidates, match_case, restore

__all__ = ["Synonym"]

UNKNOWN = "unk"  # PWWS's unknown word: a word no vocabulary of a sentiment model gives weight to


class Synonym(GreedyWordAttack):
    """Synonym substitution from WordNet, PWWS's word order or TextFooler's greedy search."""

    name = "text.synonym"
    reference = (
        "Ren et al. 2019, Generating Natural Language Adversarial Examples through Probability Weighted Word "
        "Saliency (PWWS); Jin et al. 2020, Is BERT Really Robust? (TextFooler)"
    )
    search = Choice(
        "pwws", "the search: pwws (saliency-weighted order) or greedy (TextFooler's)", choices=("pwws", "greedy")
    )
    max_synonyms = Int(20, "most synonyms tried per word", low=1, high=1000)
    senses = Int(
        3,
        "a word's most frequent senses (in its most frequent part of speech) whose lemmas are its synonyms; "
        "0: every sense of every part of speech (more synonyms, more of them off the text's meaning)",
        low=0,
        high=100,
    )
    inflections = Bool(
        True,
        "also offer, for an inflected noun, verb or adjective (films, blew, funniest), its lemma's synonyms "
        "inflected the same way (movies, wasted, laughable), after the word's own",
    )
    rescore = Bool(
        False,
        "pwws: at each step score every synonym of the word in the text as it then stands and keep the best "
        "(a query per synonym), instead of the one planned from the original text (one query)",
    )
    min_word_length = Int(3, "shortest word the attack changes, in letters", low=1, high=100)

    keep_names = Bool(
        True,
        "leave capitalised words inside a sentence alone (names: Shanghai, Ace); a word opening a sentence may change",
    )

    def eligible_at(self, doc: Doc, pos: int, p: dict[str, Any]) -> bool:
        word = doc.words[pos]
        if p["keep_names"] and word[:1].isupper() and not doc.starts_sentence(pos):
            return False
        return self.eligible(word, p)

    def eligible(self, word: str, p: dict[str, Any]) -> bool:
        return (
            len(word) >= p["min_word_length"]
            and word.lower() not in lexicon.stop_words()
            and bool(self._synonyms(word, p))
        )

    def _synonyms(self, word: str, p: dict[str, Any]) -> list[str]:
        found = lexicon.synonyms(word, p["senses"])
        if p["inflections"]:
            found = list(dict.fromkeys([*found, *lexicon.inflected_synonyms(word, p["senses"])]))
        return found

    def candidates(self, word: str, rng: np.random.Generator, p: dict[str, Any]) -> list[str]:
        return [match_case(word, s) for s in self._synonyms(word, p)[: p["max_synonyms"]]]

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        if p["search"] == "greedy":
            return super().generate(model, batch, p)
        return self._pwws(model, batch, p)

    def _pwws(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        texts = list(batch.texts or ())
        n = len(texts)
        docs = [Doc.of(t) for t in texts]
        objective = Objective(batch)
        cap = p["max_queries"] or None
        spent = np.zeros(n, np.int64)
        notes: list[str | None] = [None] * n

        def left(i: int) -> float:
            return float("inf") if cap is None else cap - spent[i]

        def score(items: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
            owners = np.asarray([i for i, _ in items], np.int64)
            np.add.at(spent, owners, 1)
            probs = model.text_probs([t for _, t in items], rows=owners)
            return objective.value(probs, owners), objective.reached(probs, owners)

        # One call: each sample's own text, each word replaced by the unknown word, and each
        # of each word's synonyms, as far as the sample's budget goes (one query kept per word).
        items: list[tuple[int, str]] = []
        what: list[tuple[int, int, str | None]] = []  # sample, position (-1: the text), synonym
        for i, doc in enumerate(docs):
            if left(i) < 1:
                continue
            items.append((i, texts[i]))
            what.append((i, -1, None))
            budget = left(i) - 1
            for k, w in enumerate(doc.words):
                if not self.eligible_at(doc, k, p):
                    continue
                syns = self.candidates(w, np.random.default_rng(0), p)  # listed, not drawn
                syns = [s for s in syns if s != w]
                need = 1 + len(syns)
                if not syns or budget < need + 1:
                    continue
                budget -= need
                items.append((i, doc.render({k: UNKNOWN})))
                what.append((i, k, None))
                for s in syns:
                    items.append((i, doc.render({k: s})))
                    what.append((i, k, s))
        current = np.full(n, -np.inf)
        done = np.zeros(n, bool)
        plans: dict[int, list[tuple[float, int, str]]] = {}
        if items:
            values, reached = score(items)
            saliency: dict[int, dict[int, float]] = {}
            best: dict[int, dict[int, tuple[float, str]]] = {}
            for row, (i, k, syn) in enumerate(what):
                v = float(values[row])
                if k < 0:
                    current[i], done[i] = v, bool(reached[row])
                elif syn is None:
                    saliency.setdefault(i, {})[k] = v
                elif k not in best.get(i, {}) or v > best[i][k][0]:
                    best.setdefault(i, {})[k] = (v, syn)
            for i, sal in saliency.items():
                ks = sorted(sal)
                raw = np.asarray([sal[k] - current[i] for k in ks])
                weights = np.exp(raw - raw.max())
                weights /= weights.sum()
                plan = [(float(w * (best[i][k][0] - current[i])), k, best[i][k][1]) for w, k in zip(weights, ks)]
                plans[i] = sorted(plan, key=lambda t: (-t[0], t[1]))
        # Apply in order, one call per step for every active sample: the planned synonym
        # (one query), or with ``rescore`` each of the word's synonyms in the text as it stands.
        step = dict.fromkeys(plans, 0)
        while True:
            batch_items: list[tuple[int, str]] = []
            moves: list[tuple[int, int, str]] = []
            for i, plan in plans.items():
                if done[i] or len(docs[i].changed) >= p["max_words"] or step[i] >= len(plan) or left(i) < 1:
                    continue
                _, k, s = plan[step[i]]
                step[i] += 1
                options = [s]
                if p["rescore"]:
                    word = docs[i].words[k]
                    options = [c for c in self.candidates(word, np.random.default_rng(0), p) if c != word]
                    options = options[: int(min(len(options), left(i)))]
                for c in options:
                    batch_items.append((i, docs[i].render({k: c})))
                    moves.append((i, k, c))
            if not batch_items:
                break
            values, reached = score(batch_items)
            owners = np.asarray([i for i, _ in batch_items], np.int64)
            for i, row in best_candidates(owners, values, reached).items():
                if reached[row] or values[row] > current[i]:
                    _, k, c = moves[row]
                    docs[i].set(k, c)
                    current[i], done[i] = float(values[row]), bool(reached[row])
        if p["restore"]:

            def probs_of(items: list[tuple[int, str]]) -> np.ndarray:
                owners = np.asarray([i for i, _ in items], np.int64)
                np.add.at(spent, owners, 1)
                return model.text_probs([t for _, t in items], rows=owners)

            restore(docs, done, left, probs_of, objective)
        for i in range(n):
            if not done[i] and i not in plans:
                notes[i] = "no word of the text has a synonym the attack may use"
            elif not done[i] and cap is not None and spent[i] >= cap:
                notes[i] = f"its query budget (max_queries={cap}) ran out"
        return AttackOutput(x_adv=torch.zeros(0), texts=[d.render() for d in docs], notes=notes)
