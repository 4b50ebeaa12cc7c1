"""Open-box text attack: HotFlip (Ebrahimi et al. 2018), word flips guided by gradients.

HotFlip estimates, from one gradient of the loss with respect to the text's token
embeddings, how much replacing the token at position ``t`` by token ``v`` would change the
loss: ``(e_v - e_t) . grad_t``. This version flips words (the target's tokens) rather
than characters, and only to replacements that keep the meaning: the WordNet synonyms of
the word (one outside the target's vocabulary is its unknown token, as the model reads it;
``candidates=synonyms``), or the words nearest
to it in the target's own embedding space (``candidates=neighbours``, cosine similarity at
least ``min_similarity``). Each step takes one gradient per active sample, scores every
allowed flip of every word by that estimate, checks the ``beam`` best with the model (all
samples' in one call) and keeps the best if it brings the model closer to the goal.

It needs an open-box text target whose module is a :class:`feint.targets.text.TextModule`
(``movie_reviews`` is one). Queries: one forward and one gradient query per sample per
step, and one forward query per flip checked; ``max_queries`` caps their sum per sample.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from feint.attacks.base import OPEN_BOX, AttackOutput, Batch
from feint.attacks.model import CountedModel
from feint.attacks.params import Bool, Choice, Float, Int
from feint.attacks.targeting import TARGET_LABELS, TARGETED
from feint.attacks.text import lexicon
from feint.attacks.text.base import (
    MAX_QUERIES,
    MAX_WORDS,
    Doc,
    Objective,
    TextAttack,
    best_candidates,
    match_case,
)
from feint.errors import Incompatible
from feint.targets.text import UNK

__all__ = ["HotFlip"]


class HotFlip(TextAttack):
    """HotFlip: gradient-guided word flips through the target's embedding layer (open-box)."""

    name = "text.hotflip"
    access: ClassVar[str] = OPEN_BOX
    reference = "Ebrahimi et al. 2018, HotFlip: White-Box Adversarial Examples for Text Classification"
    targeted = TARGETED
    target_labels = TARGET_LABELS
    max_words = MAX_WORDS
    max_queries = MAX_QUERIES
    beam = Int(
        4, "flips checked with the model per sample and step, the best by the gradient's estimate", low=1, high=1000
    )
    candidates = Choice(
        "synonyms",
        "the replacements allowed: WordNet synonyms in the target's vocabulary, or its nearest words in the "
        "target's embedding space",
        choices=("synonyms", "neighbours"),
    )
    senses = Int(
        3,
        "candidates=synonyms: a word's most frequent senses whose lemmas are its synonyms; 0: every sense of "
        "every part of speech",
        low=0,
        high=100,
    )
    inflections = Bool(
        True,
        "candidates=synonyms: also its lemma's synonyms, inflected as the word is, for an inflected noun, "
        "verb or adjective (films: movies)",
    )
    neighbours = Int(20, "candidates=neighbours: nearest words considered per word", low=1, high=1000)
    min_similarity = Float(0.6, "candidates=neighbours: least cosine similarity of a replacement", low=-1, high=1)

    def _module(self, model: CountedModel):
        module = model.module
        if module is None or not all(hasattr(module, a) for a in ("encode", "embedding", "forward_embedded", "vocab")):
            raise Incompatible(
                f"attack {self.name} needs a text target whose module exposes its embeddings (a TextModule); "
                f"{model.target.target_name} does not"
            )
        return module

    def _allowed(
        self, module: Any, word: str, p: dict[str, Any], cache: dict[str, list[tuple[str, int]]]
    ) -> list[tuple[str, int]]:
        """The replacements of ``word``: each as written and as the token the model reads
        (a synonym outside the vocabulary is its unknown token)."""
        key = word.lower()
        if key in cache:
            return cache[key]
        vocab = module.vocab
        own = vocab.index.get(key)
        if own is None or key in lexicon.stop_words():
            out: list[tuple[str, int]] = []
        elif p["candidates"] == "synonyms":
            found = lexicon.synonyms(key, p["senses"])
            if p["inflections"]:
                found = list(dict.fromkeys([*found, *lexicon.inflected_synonyms(key, p["senses"])]))
            out = [(s, vocab.index.get(s, UNK)) for s in found]
        else:
            weight = module.embedding.weight.detach()
            unit = torch.nn.functional.normalize(weight, dim=1)
            sims = unit @ unit[own]
            sims[:2] = -2.0  # never padding or the unknown token
            sims[own] = -2.0
            top = torch.topk(sims, min(p["neighbours"], len(sims) - 1))
            out = [
                (vocab.tokens[int(i)], int(i))
                for s, i in zip(top.values.tolist(), top.indices.tolist())
                if s >= p["min_similarity"]
            ]
        cache[key] = out
        return out

    def generate(self, model: CountedModel, batch: Batch, p: dict[str, Any]) -> AttackOutput:
        module = self._module(model)
        texts = list(batch.texts or ())
        n = len(texts)
        docs = [Doc.of(t) for t in texts]
        objective = Objective(batch)
        cap = p["max_queries"] or None
        spent = np.zeros(n, np.int64)
        allowed_cache: dict[str, list[tuple[str, int]]] = {}
        tokens = module.vocab.tokens
        weight = module.embedding.weight.detach()
        goal = batch.goal
        sign = -1.0 if batch.targeted else 1.0  # untargeted: raise the label's loss; targeted: lower the goal's

        def left(i: int) -> float:
            return float("inf") if cap is None else float(cap - spent[i])

        current = np.full(n, -np.inf)
        done = np.zeros(n, bool)
        exhausted = np.zeros(n, bool)
        tried: list[set[tuple[int, str]]] = [set() for _ in range(n)]
        while True:
            active = [
                i
                for i in range(n)
                if not done[i] and not exhausted[i] and len(docs[i].changed) < p["max_words"] and left(i) >= 3
            ]
            if not active:
                break
            rows = np.asarray(active, np.int64)
            ids, mask = module.encode([docs[i].render() for i in active])
            model.count("forward", len(active), rows)
            model.count("gradient", len(active), rows)
            spent[rows] += 2
            vectors = module.embedding(ids).detach().requires_grad_(True)
            with torch.enable_grad():
                logits = module.forward_embedded(vectors, mask)
                loss = torch.nn.functional.cross_entropy(logits, goal[rows], reduction="sum")
                (grad,) = torch.autograd.grad(loss, vectors)
            probs = torch.softmax(logits.detach(), dim=1).numpy().astype(np.float64)
            now = objective.value(probs, rows)
            reached = objective.reached(probs, rows)
            items: list[tuple[int, str]] = []
            moves: list[tuple[int, int, str]] = []
            for r, i in enumerate(active):
                current[i] = max(current[i], now[r]) if np.isfinite(current[i]) else now[r]
                if reached[r]:
                    done[i] = True
                    continue
                doc = docs[i]
                seq = ids[r][mask[r]].tolist()
                flips: list[tuple[float, int, str]] = []
                t = 0
                for k, word in enumerate(doc.words):  # align the text's words with the model's tokens
                    key = word.lower()
                    at = next((j for j in range(t, min(t + 4, len(seq))) if tokens[seq[j]] == key), None)
                    if at is None:
                        continue
                    t = at + 1
                    if k in doc.changed or not word[:1].islower():  # names and sentence starts stay
                        continue
                    cands = self._allowed(module, word, p, allowed_cache)
                    if cands:
                        ids_of = [v for _, v in cands]
                        est = ((weight[ids_of] - weight[seq[at]]) @ grad[r, at]) * sign
                        flips.extend((e, k, c) for (c, _), e in zip(cands, est.tolist()) if (k, c) not in tried[i])
                flips.sort(key=lambda f: (-f[0], f[1], f[2]))
                # replacements the model reads as the same token (synonyms outside its
                # vocabulary: the unknown token) are one flip for it: the first is checked
                seen: set[tuple[int, int]] = set()
                unique = []
                for f in flips:
                    read = (f[1], module.vocab.index.get(f[2].lower(), UNK))
                    if read not in seen:
                        seen.add(read)
                        unique.append(f)
                flips = unique
                for _, k, c in flips[: int(min(p["beam"], left(i)))]:
                    tried[i].add((k, c))
                    word = match_case(doc.words[k], c)
                    items.append((i, doc.render({k: word})))
                    moves.append((i, k, word))
                if not flips:
                    exhausted[i] = True  # nothing left to flip
            if not items:
                break
            owners = np.asarray([i for i, _ in items], np.int64)
            np.add.at(spent, owners, 1)
            cand = model.text_probs([t for _, t in items], rows=owners)
            values = objective.value(cand, owners)
            hit = objective.reached(cand, owners)
            for i, row in best_candidates(owners, values, hit).items():
                if hit[row] or values[row] > current[i]:
                    _, k, word = moves[row]
                    docs[i].set(k, word)
                    current[i] = values[row]
                    done[i] = bool(hit[row])
        notes: list[str | None] = [None] * n
        for i in range(n):
            if done[i]:
                continue
            if exhausted[i] and not docs[i].changed:
                notes[i] = "no word of the text has a replacement the attack may use"
            elif cap is not None and left(i) < 3:
                notes[i] = f"its query budget (max_queries={cap}) ran out"
        return AttackOutput(x_adv=torch.zeros(0), texts=[d.render() for d in docs], notes=notes)
