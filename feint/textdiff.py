"""Text as attacks change it: words, the words changed, the character edit distance, a diff.

A text's *words* are its runs of non-whitespace characters (``str.split()``), so a word
with a look-alike or an invisible character inside it is still one word, and a changed
one. Two texts are compared word by word with :mod:`difflib`: every word replaced,
inserted or deleted counts once (a replaced run of 2 words by 3 counts 3). The character
edit distance is the Levenshtein distance (insertions, deletions and substitutions of one
code point each), computed exactly.

These are the distances of a text sample; a run on a text target stores them in the
columns that hold an image's Lp distances (see :func:`distances`).
"""

from __future__ import annotations

import difflib
import functools
import unicodedata
from collections.abc import Sequence
from typing import Any

__all__ = ["words", "words_changed", "edit_distance", "diff_segments", "excerpt", "visible", "distances", "as_text"]


def as_text(value: Any) -> str:
    """A sample as text: a ``str`` as it is, bytes as UTF-8, anything else by ``str``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def words(text: str) -> list[str]:
    """The text's words: its runs of non-whitespace characters."""
    return text.split()


def _opcodes(a: Sequence[str], b: Sequence[str]) -> list[tuple[Any, int, int, int, int]]:
    return list(difflib.SequenceMatcher(None, list(a), list(b), autojunk=False).get_opcodes())


def words_changed(original: str, adversarial: str) -> int:
    """How many words differ: each word replaced, inserted or deleted, once."""
    a, b = words(original), words(adversarial)
    if a == b:
        return 0
    if len(a) == len(b):  # the common case (substitutions): position by position
        return sum(x != y for x, y in zip(a, b))
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in _opcodes(a, b) if tag != "equal")


@functools.lru_cache(maxsize=4096)
def edit_distance(a: str, b: str) -> int:
    """The Levenshtein distance between ``a`` and ``b``: the common prefix and suffix are
    set aside, then the table is computed a column at a time with each column held as
    bits of two integers (the bit-parallel form of Myers and Hyyro: a column's vertical
    differences are +1, 0 or -1, so two bit vectors hold them). Kept for the last pairs
    asked, as a run's measures ask for the same pair more than once."""
    start = 0
    while start < len(a) and start < len(b) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if not a or not b:
        return max(len(a), len(b))
    m = len(a)
    full, top = (1 << m) - 1, 1 << (m - 1)
    match: dict[str, int] = {}  # character -> the rows of ``a`` holding it, as bits
    for i, ch in enumerate(a):
        match[ch] = match.get(ch, 0) | (1 << i)
    plus, minus, score = full, 0, m  # vertical +1 / -1 bits of the column; D[m][j]
    for ch in b:
        eq = match.get(ch, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        hplus = minus | ~(xh | plus)
        hminus = plus & xh
        if hplus & top:
            score += 1
        elif hminus & top:
            score -= 1
        hplus = (hplus << 1) | 1  # the first row grows by one a column: a global distance
        hminus <<= 1
        plus = (hminus | ~(xv | hplus)) & full
        minus = hplus & xv & full
    return score


def diff_segments(original: str, adversarial: str) -> list[tuple[str, str, str]]:
    """The adversarial text as segments ``(kind, original, adversarial)``: ``equal`` (the
    same words, with the adversarial text's own spacing) or ``changed`` (the words that
    differ, as they were and as they are; either may be empty). Joined with single spaces
    between segments, the adversarial sides read as the adversarial text's words."""
    a, b = words(original), words(adversarial)
    out: list[tuple[str, str, str]] = []
    if len(a) == len(b):  # substitutions: position by position, as words_changed counts them
        for x, y in zip(a, b):
            if x == y and out and out[-1][0] == "equal":
                out[-1] = ("equal", out[-1][1] + " " + x, out[-1][2] + " " + y)
            else:
                out.append(("equal", x, y) if x == y else ("changed", x, y))
        return out
    for tag, i1, i2, j1, j2 in _opcodes(a, b):
        if tag == "equal":
            out.append(("equal", " ".join(a[i1:i2]), " ".join(b[j1:j2])))
        elif tag == "replace" and i2 - i1 == j2 - j1:
            for x, y in zip(a[i1:i2], b[j1:j2]):
                out.append(("changed", x, y) if x != y else ("equal", x, y))
        else:
            out.append(("changed", " ".join(a[i1:i2]), " ".join(b[j1:j2])))
    return out


def distances(originals: Sequence[Any], adversarials: Sequence[Any]) -> dict[str, list[float]]:
    """Per pair: ``words_changed``, ``words_changed_share`` (of the original's words) and
    ``char_edits`` (the edit distance)."""
    changed, share, edits = [], [], []
    for x, y in zip(originals, adversarials):
        x, y = as_text(x), as_text(y)
        n = words_changed(x, y)
        changed.append(float(n))
        share.append(n / max(1, len(words(x))))
        edits.append(float(edit_distance(x, y)))
    return {"words_changed": changed, "words_changed_share": share, "char_edits": edits}


def visible(text: str) -> str:
    """``text`` with each invisible or control character (Unicode categories Cf and Cc, other
    than tab and newline) written as ``<U+200B>``, so a report shows what a reader would not see."""
    return "".join(
        f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in ("Cf", "Cc") and ch not in "\t\n" else ch for ch in text
    )


def excerpt(original: str, adversarial: str, context: int = 6) -> list[tuple[str, str, str]]:
    """:func:`diff_segments` with long unchanged stretches cut to ``context`` words on each
    side of a change; a cut is an ``("gap", "", "...")`` segment."""
    out: list[tuple[str, str, str]] = []
    segs = diff_segments(original, adversarial)
    for k, (kind, a, b) in enumerate(segs):
        if kind != "equal":
            out.append((kind, a, b))
            continue
        ws = b.split()
        head = ws[:context] if k > 0 else []
        tail = ws[-context:] if k < len(segs) - 1 else []
        if len(ws) <= len(head) + len(tail) + 1:
            out.append((kind, a, b))
            continue
        if head:
            out.append(("equal", " ".join(head), " ".join(head)))
        out.append(("gap", "", "..."))
        if tail:
            out.append(("equal", " ".join(tail), " ".join(tail)))
    return out
