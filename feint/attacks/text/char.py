"""Character-level closed-box text attacks: DeepWordBug, keyboard typos, bad characters.

All three use the word-importance greedy search of :mod:`feint.attacks.text.base` and
differ in the replacements they propose for a word:

- ``deepwordbug`` (Gao et al. 2018): a swap of two adjacent letters, a substituted
  letter, a deleted letter, an inserted letter; ``candidates`` such edits per word.
- ``typos`` (Pruthi et al. 2019): the typos people make, keeping a word's first and last
  letter: a swap of two inner letters, a dropped inner letter, a doubled letter, and a
  letter replaced by a neighbour on a QWERTY keyboard.
- ``bad_characters`` (Boucher et al. 2022, "Bad Characters"): changes a reader does not
  see: a letter replaced by a look-alike from the Unicode confusables table
  (``homoglyph``), an invisible zero-width character inserted (``invisible``), the word
  written backwards inside a right-to-left override so it displays as before
  (``reorder``), or a letter followed by a backspace control character (``deletion``).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from feint.attacks.params import Bool, Choice, Int
from feint.attacks.text import lexicon
from feint.attacks.text.base import GreedyWordAttack

__all__ = ["CharAttack", "DeepWordBug", "Typos", "BadCharacters", "KEYBOARD"]

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    where = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
    out = {}
    for ch, (r, c) in where.items():
        near = [
            _ROWS[rr][cc]
            for rr in (r - 1, r, r + 1)
            for cc in (c - 1, c, c + 1)
            if 0 <= rr < 3 and 0 <= cc < len(_ROWS[rr]) and (rr, cc) != (r, c)
        ]
        out[ch] = "".join(near)
    return out


KEYBOARD = _neighbours()


def _keep_case(old: str, new: str) -> str:
    return new.upper() if old.isupper() else new


CANDIDATES = Int(8, "replacements tried per word (all of a step's are scored in one model call)", low=1, high=1000)
SKIP_STOP_WORDS = Bool(
    False, "leave scikit-learn's English stop words alone (neither ranked nor changed: fewer queries a sample)"
)


class CharAttack(GreedyWordAttack):
    """A character-level attack: any word of ``min_word_length`` letters, stop words
    too unless ``skip_stop_words``."""

    skip_stop_words = SKIP_STOP_WORDS

    def eligible(self, word: str, p: dict[str, Any]) -> bool:
        if p["skip_stop_words"] and word.lower() in lexicon.stop_words():
            return False
        return super().eligible(word, p)


class DeepWordBug(CharAttack):
    """DeepWordBug: letter swaps, substitutions, deletions and insertions in the most important words."""

    name = "text.deepwordbug"
    reference = "Gao et al. 2018, Black-box Generation of Adversarial Text Sequences to Evade Deep Learning Classifiers"
    candidates_per_word = CANDIDATES
    operations = Choice(
        "all",
        "the edits proposed: all four, or only swap, substitute, delete or insert",
        choices=("all", "swap", "substitute", "delete", "insert"),
    )

    def candidates(self, word: str, rng: np.random.Generator, p: dict[str, Any]) -> list[str]:
        ops = ("swap", "substitute", "delete", "insert") if p["operations"] == "all" else (p["operations"],)
        out = []
        for k in range(p["candidates_per_word"]):
            op = ops[k % len(ops)]
            j = int(rng.integers(len(word)))
            letter = string.ascii_lowercase[int(rng.integers(26))]
            if op == "swap" and len(word) > 1:
                j = min(j, len(word) - 2)
                out.append(word[:j] + word[j + 1] + word[j] + word[j + 2 :])
            elif op == "substitute":
                out.append(word[:j] + _keep_case(word[j], letter) + word[j + 1 :])
            elif op == "delete" and len(word) > 1:
                out.append(word[:j] + word[j + 1 :])
            elif op == "insert":
                out.append(word[:j] + letter + word[j:])
        return out


class Typos(CharAttack):
    """Keyboard typos (Pruthi et al.): inner swaps, drops, doubled letters and neighbouring keys."""

    name = "text.typos"
    reference = "Pruthi et al. 2019, Combating Adversarial Misspellings with Robust Word Recognition"
    candidates_per_word = CANDIDATES
    min_word_length = Int(4, "shortest word the attack changes, in letters (first and last stay)", low=3, high=100)

    def candidates(self, word: str, rng: np.random.Generator, p: dict[str, Any]) -> list[str]:
        inner = range(1, len(word) - 1)
        options = []
        for j in inner:
            if j + 1 < len(word) - 1 and word[j] != word[j + 1]:
                options.append(word[:j] + word[j + 1] + word[j] + word[j + 2 :])  # swap
            options.append(word[:j] + word[j + 1 :])  # drop
            options.append(word[:j] + word[j] + word[j:])  # double
            for near in KEYBOARD.get(word[j].lower(), ""):
                options.append(word[:j] + _keep_case(word[j], near) + word[j + 1 :])
        options = list(dict.fromkeys(o for o in options if o != word))
        if len(options) <= p["candidates_per_word"]:
            return options
        pick = rng.choice(len(options), p["candidates_per_word"], replace=False)
        return [options[int(k)] for k in sorted(pick)]


class BadCharacters(CharAttack):
    """Bad Characters (Boucher et al.): homoglyphs, invisible, reordering or deletion characters."""

    name = "text.bad_characters"
    reference = "Boucher et al. 2022, Bad Characters: Imperceptible NLP Attacks"
    candidates_per_word = CANDIDATES
    kind = Choice(
        "homoglyph",
        "what is hidden in a word: a look-alike letter (homoglyph), a zero-width character (invisible), "
        "the word reversed inside a right-to-left override (reorder), or a letter and a backspace (deletion)",
        choices=("homoglyph", "invisible", "reorder", "deletion"),
    )

    def candidates(self, word: str, rng: np.random.Generator, p: dict[str, Any]) -> list[str]:
        kind, k = p["kind"], p["candidates_per_word"]
        if kind == "reorder":
            return ["\u202e" + word[::-1] + "\u202c"]
        out = []
        if kind == "homoglyph":
            table = lexicon.confusables()
            options = [(j, alike) for j, ch in enumerate(word) for alike in table.get(ch, ())]
            if not options:
                return []
            for m in rng.permutation(len(options))[:k]:
                j, alike = options[int(m)]
                out.append(word[:j] + alike + word[j + 1 :])
        elif kind == "invisible":
            for _ in range(k):
                j = int(rng.integers(1, len(word))) if len(word) > 1 else 1
                out.append(word[:j] + lexicon.INVISIBLE[int(rng.integers(len(lexicon.INVISIBLE)))] + word[j:])
        else:  # deletion: a letter the renderer erases again
            for _ in range(k):
                j = int(rng.integers(len(word) + 1))
                out.append(word[:j] + string.ascii_lowercase[int(rng.integers(26))] + "\b" + word[j:])
        return out
