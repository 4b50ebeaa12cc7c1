"""feint's commands: the parser of the command line and one function per command, which
the command line (:mod:`feint.cli.app`) and the shell (:mod:`feint.cli.shell`) both run.

Every user mistake (unknown name, bad value, incompatible attack, unknown id) is one
line on stderr and exit code 2; nothing stored is touched by a command that fails
its checks, since every check runs before any work starts.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from feint import __version__
from feint.cli.render import Progress, ScanBar, aborted_scan, stdout_console
from feint.engine.budget import MAX_CHUNK_SIZE, MAX_QUERIES, MAX_SECONDS
from feint.engine.executors import EXECUTORS, MAX_WORKERS
from feint.report.formats import FORMATS, extensions
from feint.report.html import MAX_GALLERY

__all__ = [
    "build_parser",
    "COMMANDS",
    "print_predictions",
    "list_arguments",
    "predict_arguments",
    "scan_arguments",
    "FLAGS",
    "flag",
    "error_text",
]


EPILOG = """examples:
  feint list attacks
  feint run digits_keras pgd -i 0:10 --set eps=0.2
  feint run --resume RUN_ID
  feint scan digits_keras -a pgd jsma wasserstein -i 0:20
  feint scan digits_keras -a pgd -i 0:20 --sweep eps=0.05,0.1,0.2,0.3 --report scan.html
  feint scan digits_keras -a pgd jsma --fail-on "success_rate > 0.2" --report junit.xml
  feint show SCAN_OR_RUN_ID --json
  feint report SCAN_OR_RUN_ID -o report.html
  feint store check

Data (the store, artifacts, caches, models trained on your data) lives in $FEINT_HOME, default the per-user
data folder. Exit codes: 0 done, 1 a --fail-on gate failed, 2 bad input, 3 a run stopped by its endpoint's
query budget (stored as partial; feint run --resume RUN_ID continues it), 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"feint: error: {plain(message)}; see '{self.prog} --help'\n")
        sys.exit(2)


def plain(message: str) -> str:
    """An argparse message as one line, without its ``argument --flag:`` prefix where the
    rest names the flag itself (the messages of :func:`bounded`)."""
    import re

    return one_line(re.sub(r"^argument [^:]+: (?=-)", "", message))


def one_line(text: str) -> str:
    """``text`` on one line: line breaks a user typed into a value are shown as ``\\n``."""
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")


# The limits of the command line's own numbers (the library's where it checks them too).
MAX_REPEATS = 1000  # -n: runs of each attack


def bounded(flag: str, what: str, low: float, high: float, kind: type = int, above: bool = False) -> Any:
    """An argparse ``type`` reading a number of ``kind`` from ``low`` (more than ``low`` when
    ``above``) to ``high``; anything else is one line naming ``flag`` and the limits."""
    import math

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except (TypeError, ValueError, OverflowError):
            value = None
        if value is None or not math.isfinite(value) or value < low or (above and value == low) or value > high:
            lower = f"more than {low:,}" if above else f"from {low:,}"
            raise argparse.ArgumentTypeError(
                f"{flag} expects {what} {lower} {'and at most' if above else 'to'} {high:,}; got {text!r}"
            )
        return value

    parse.__name__ = what
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="feint",
        description="Assess the security of machine-learning models by attacking them.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"feint {__version__}")
    p.add_argument("--debug", action="store_true", help="on an error, print its traceback too (the shell's too)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    list_arguments(sub.add_parser("list", help="list targets, attacks or frameworks"))

    info = sub.add_parser("info", help="an attack's description and options (type, default, range, doc)")
    info.add_argument("attack")
    info.add_argument("--json", action="store_true", help="print one JSON document")

    run = sub.add_parser(
        "run",
        help="run one attack on samples of a target and store the results",
        description="Run ATTACK on samples of TARGET, store the run and print it. A run that the\n"
        "endpoint's query budget (max_queries) stops is stored as partial with the samples\n"
        "it finished, exit code 3; 'feint run --resume RUN_ID' continues it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("target", nargs="?", help=_target_help() + " (leave out with --resume)")
    _trust_arg(run)
    run.add_argument("attack", nargs="?", help="the attack (feint list attacks; leave out with --resume)")
    _run_args(run, per_attack=False)
    run.add_argument(
        "--resume",
        metavar="RUN_ID",
        help="continue a partial run (one the endpoint's query budget stopped): run only its samples left",
    )

    scan = sub.add_parser(
        "scan",
        help="run several attacks on a target and summarise them",
        description="Run each chosen attack once on the samples (or once per value of a\n"
        "--sweep) and print the summary by attack (and by label). Without -a,\n"
        "every attack compatible with the target runs. Exit code 1 when a\n"
        "--fail-on condition holds.",
        epilog=GATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan_arguments(scan, with_target=True)

    evaluate = sub.add_parser(
        "evaluate",
        help="robust accuracy per budget: the AutoAttack-style worst case over an ensemble of attacks",
        description="Attack the samples the target labels right with each attack of an ensemble in\n"
        "turn, each only on the samples still standing, at each budget --eps; print\n"
        "robust accuracy (clean, then after each attack) per budget. Stored as a scan:\n"
        "show, report and --resume take its id. Exit code 1 when a --fail-on gate holds.\n"
        "Ensembles: standard: APGD-CE, APGD-T (9 classes), FAB-T (9 classes), Square\n"
        "(5,000 queries); fast: APGD-CE, APGD-T (3 classes). On a closed-box target: Square.",
        epilog="--fail-on EXPR reads robust_accuracy, clean_accuracy, samples, successes and\n"
        "success_rate, checked at every budget, e.g. 'robust_accuracy < 0.5'.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate_arguments(evaluate, with_target=True)

    check = sub.add_parser(
        "check",
        help="sanity checks of an evaluation: signs that attacks fail for reasons other than robustness",
        description="On up to 10 samples the target labels right: logits or probabilities, zero or\n"
        "NaN input gradients, the loss rising over steps, success growing with the budget\n"
        "and reaching 100% unbounded, iterative beating single-step, closed-box not beating\n"
        "open-box, restarts agreeing (Carlini et al. 2019). Each: pass, warn or fail and why.\n"
        "Exit code 1 when a check fails. Nothing is stored.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _target_arg(check)
    check.add_argument("-i", "--sample-index", metavar="INDICES", help="samples (default: the first 100)")
    check.add_argument("--norm", default="inf", help="inf or 2 (default inf)")
    check.add_argument("--eps", type=float, default=0.3, help="the budget (default 0.3)")
    check.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    check.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    opt = sub.add_parser(
        "optimize",
        help="search attack options with Optuna for an objective; a later run or scan takes the best by --from-study",
        description="Per attack, --trials trials (the first the defaults), each a run on the samples\n"
        "with options Optuna's TPE sampler proposes within the options' declared ranges,\n"
        "pruned early when poor; seeded. Objectives: success (share turned, maximised),\n"
        "distance (mean L2 per sample, a sample not turned counting as the largest\n"
        "distance; minimised), queries (per turned sample; minimised), score (adversarial\n"
        "confidence; maximised). Searched by default: every option but the budget's\n"
        "(eps, norm, targeted, target_labels, top_k_targets, max_queries). The study is\n"
        "kept in optuna.db beside the store; --resume ID finishes a stopped one.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    opt.add_argument("target", nargs="?", help=_target_help() + " (leave out with --resume)")
    _trust_arg(opt)
    opt.add_argument("attacks", nargs="*", metavar="ATTACK", help="attacks to optimise, each in its own study")
    optimize_arguments(opt)

    show = sub.add_parser("show", help="reprint a stored run or scan")
    show.add_argument("id", help="a run id or a scan id")
    show.add_argument("--by-label", action="store_true", help="for a scan, also the table by label")
    show.add_argument("--json", action="store_true", help="print one JSON document")

    report = sub.add_parser(
        "report",
        help="write a report of a stored scan or run: html, json, jsonl, junit, markdown",
        description="Render a report of a stored scan or run, from the store alone.\n"
        "Exit code 1 when a --fail-on condition given here holds.",
        epilog=GATE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("id", help="a scan id or a run id")
    report.add_argument(
        "-f",
        "--format",
        choices=FORMATS.names(),
        help="default: from the extension of -o, or markdown on stdout",
    )
    report.add_argument("-o", "--output", metavar="FILE", help="write here (default: stdout)")
    report.add_argument(
        "--fail-on",
        action="append",
        default=None,
        metavar="EXPR",
        help="gates to check instead of those the scan was started with (repeatable)",
    )
    report.add_argument(
        "--gallery",
        type=bounded("--gallery", "a number of samples", 0, MAX_GALLERY),
        metavar="N",
        help="samples shown per run in the HTML report (default 8)",
    )

    store_arguments(
        sub.add_parser(
            "store",
            help="check the store: SQLite's integrity and foreign-key checks (exit 0 ok, 2 damaged)",
            description="feint store check: run SQLite's integrity_check and foreign_key_check on the\n"
            "store ($FEINT_HOME/feint.db) without writing to it, and say ok or damaged and why.\n"
            "Exit code 0 when it is ok, 2 when it is damaged or missing. feint refuses a\n"
            "damaged store and never writes to it: move it away to start a new one.",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )

    predict = sub.add_parser(
        "predict",
        help="what a target predicts for some of its samples (labels, confidences, top 3)",
        description="For each sample: its index, true label (where known), the predicted label\n"
        "and confidence, and the top 3 classes. For image targets the samples are\n"
        "saved as PNGs under $FEINT_HOME/artifacts/predict/ (or -o DIR).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _target_arg(predict)
    predict_arguments(predict, default="0")

    shell = sub.add_parser(
        "shell",
        help="the interactive shell (also: feint with no arguments, on a terminal)",
        description="An interactive shell over the same library: interact TARGET, use ATTACK,\n"
        "set NAME VALUE, run, scan, show, save, back. Type 'help' inside it.\n"
        "With -s or -c it runs the commands and exits: it stops at the first\n"
        "command that fails (with -k it goes on) and exits with the code of the\n"
        "first failure (2 bad input, 1 a failed --fail-on gate or an internal\n"
        "error, 3 a run stopped by its endpoint's query budget, 130 interrupted),\n"
        "else 0. Commands piped on stdin run the same way.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    given = shell.add_mutually_exclusive_group()
    given.add_argument("-s", "--script", metavar="FILE", help="run the shell commands in FILE, then exit")
    given.add_argument(
        "-c",
        "--commands",
        metavar="COMMANDS",
        help="run these ';'-separated shell commands, then exit, e.g. \"interact digits_keras; use pgd; run\"",
    )
    shell.add_argument(
        "-k",
        "--keep-going",
        action="store_true",
        help="in a script, go on after a command fails (the exit code is still the first failure's)",
    )
    return p


GATE_HELP = """--fail-on EXPR: metrics of an attack compared with numbers, joined by and/or/not and
parentheses, e.g.  success_rate > 0.2   pgd.success_rate > 50%   successes >= 3 and queries.avg < 500
metrics: total_runs samples successes success_rate best_score, and with .min/.avg/.max:
time_s queries forward_queries gradient_queries linf l2 l0 (distances of the turned samples).
A metric without ATTACK. is checked for every attack; the attacks for which it holds fail."""


def _target_help() -> str:
    from feint.targets import TARGETS

    return (
        f"a built-in target ({', '.join(TARGETS.names())}; feint list targets), a YAML declaration of your "
        "own model (FILE.yaml), or a Python file with a target class (FILE.py or FILE.py:CLASS; loading it "
        "runs its code)"
    )


def list_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``list`` (the command line's and the shell's)."""
    p.add_argument("what", choices=["targets", "attacks", "frameworks"])
    p.add_argument("--json", action="store_true", help="print one JSON document")


def store_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``feint store`` (and the shell's ``store``)."""
    p.add_argument("action", choices=["check"], help="check: integrity and foreign-key checks")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def predict_arguments(p: argparse.ArgumentParser, default: str | None) -> None:
    """The arguments of ``predict`` after its target (the command line's and the shell's)."""
    p.add_argument(
        "-i",
        "--sample-index",
        metavar="INDICES",
        default=default,
        help="samples: 3, 1,4,7, 0:100 or range(100)" + (f" (default {default})" if default else ""),
    )
    p.add_argument(
        "--run",
        metavar="RUN_ID",
        help="predict a stored run's adversarial samples instead (the run's samples; -i is not used)",
    )
    p.add_argument("-o", "--output", metavar="DIR", help="folder for the PNGs of image samples")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def scan_arguments(p: argparse.ArgumentParser, with_target: bool) -> None:
    """The arguments of ``scan`` (the shell's scan has its active target instead of TARGET)."""
    if with_target:
        p.add_argument("target", nargs="?", help=_target_help() + " (leave out with --resume)")
        _trust_arg(p)
    p.add_argument("-a", "--attacks", nargs="+", metavar="ATTACK", help="attacks to run (default: all compatible)")
    p.add_argument(
        "--suite",
        choices=["corruptions"],
        help="run a suite instead: corruptions is ImageNet-C's corruptions at severities 1 to 5, reported as "
        "accuracy per corruption and severity (with -a, only those of its attacks or corruptions)",
    )
    _run_args(p, per_attack=True)
    p.add_argument("--by-label", "-s", "--summary", action="store_true", help="also summarise successes by input label")
    p.add_argument(
        "-n",
        "--num-iters",
        "--num_iters",
        type=bounded("-n", "a number of runs per attack", 1, MAX_REPEATS),
        default=1,
        metavar="N",
        help="run each attack N times, with seeds SEED, SEED+1, ... (default 1)",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="accepted for Counterfit's scripts: every run is printed anyway"
    )
    p.add_argument(
        "--sweep",
        action="append",
        default=[],
        metavar="[ATTACK.]NAME=V1,V2,...",
        help="run the attacks that have the numeric parameter NAME once per value and report "
        "success against it (a robustness curve); repeatable for other attacks",
    )
    p.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="EXPR",
        help="exit 1 when EXPR holds, e.g. 'success_rate > 0.2' or 'pgd.success_rate > 0.5' "
        "(repeatable; grammar below)",
    )
    p.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FILE",
        help="write a report of the stored scan when it ends; the format comes from the "
        f"extension: {', '.join(extensions())} (repeatable)",
    )
    scale = p.add_argument_group("scale, resume and budgets")
    scale.add_argument(
        "--executor",
        choices=EXECUTORS.names(),
        default="auto",
        help="where units run: "
        + "; ".join(f"{name}: {kind.doc}" for name, kind in EXECUTORS.items())
        + " (default: auto)",
    )
    scale.add_argument(
        "--workers",
        type=bounded("--workers", "a number of workers", 1, MAX_WORKERS),
        metavar="N",
        help="worker processes (process, ray, auto; default: the CPUs of this machine, or of the Ray cluster)",
    )
    scale.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        help="an existing Ray cluster (default: start a local Ray with --workers CPUs)",
    )
    scale.add_argument(
        "--chunk-size",
        type=bounded("--chunk-size", "a number of samples", 1, MAX_CHUNK_SIZE),
        metavar="N",
        help="samples per unit of work (default: each attack's batch_size)",
    )
    scale.add_argument(
        "--resume", metavar="SCAN_ID", help="continue a stopped scan: run only its units with no stored result"
    )
    scale.add_argument(
        "--max-queries",
        type=bounded("--max-queries", "a number of queries", 1, MAX_QUERIES),
        metavar="N",
        help="start no new unit once the scan has spent N model queries",
    )
    scale.add_argument(
        "--max-time",
        type=bounded("--max-time", "a number of seconds", 0, MAX_SECONDS, kind=float, above=True),
        metavar="SECONDS",
        help="start no new unit after SECONDS of scanning",
    )


def optimize_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``optimize`` (the shell's ``set --optimize`` takes them too)."""
    p.add_argument("--trials", type=int, default=20, metavar="N", help="trials per attack (default 20)")
    p.add_argument("--objective", default="success", help="success, distance, queries or score (default success)")
    p.add_argument("-i", "--sample-index", default="0:20", metavar="INDICES", help="samples (default 0:20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--set", action="append", default=[], metavar="[ATTACK.]NAME=VALUE", help="an option kept fixed (repeatable)"
    )
    p.add_argument(
        "--params", nargs="+", metavar="[ATTACK.]NAME", help="the options to search (default: all but the budget's)"
    )
    p.add_argument("--resume", metavar="STUDY_ID", help="finish a stopped study: only its missing trials run")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def evaluate_arguments(p: argparse.ArgumentParser, with_target: bool) -> None:
    """The arguments of ``evaluate`` (the shell's has its active target instead of TARGET)."""
    if with_target:
        p.add_argument("target", nargs="?", help=_target_help() + " (leave out with --resume)")
        _trust_arg(p)
    p.add_argument("--norm", default="inf", help="the norm of the budgets: inf or 2 (default inf)")
    p.add_argument(
        "--eps", nargs="+", type=float, metavar="EPS", help="budgets, one or more (default 0.3), e.g. --eps 0.1 0.2 0.3"
    )
    p.add_argument("--version", default="standard", help="the ensemble: standard or fast (default standard)")
    p.add_argument(
        "-i", "--sample-index", metavar="INDICES", help="samples: 0:100, 1,4,7 or range(100) (default: the first 100)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--batch-size", type=int, default=100, metavar="N", help="samples attacked together (default 100)")
    p.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="EXPR",
        help="exit 1 when EXPR holds at some budget, e.g. 'robust_accuracy < 0.5' (repeatable)",
    )
    p.add_argument(
        "--report",
        action="append",
        default=[],
        metavar="FILE",
        help=f"write a report of the stored evaluation; the format comes from the extension: {', '.join(extensions())}",
    )
    p.add_argument("--no-checks", action="store_true", help="leave out the sanity checks (feint check) it runs first")
    p.add_argument("--resume", metavar="SCAN_ID", help="continue a stopped evaluation from its first stage not stored")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


# The command line's spelling of the library's parameters, in its one-line errors.
FLAGS = {
    "params": "--set",
    "common": "--set",
    "sweep": "--sweep",
    "fail_on": "--fail-on",
    "chunk_size": "--chunk-size",
    "executor": "--executor",
    "workers": "--workers",
    "ray_address": "--ray-address",
    "max_queries": "--max-queries",
    "max_time": "--max-time",
    "resume": "--resume",
    "suite": "--suite",
    "gallery": "--gallery",
    "sample_index": "-i",
    "eps": "--eps",
    "norm": "--norm",
    "version": "--version",
}


def flag(name: str) -> str:
    """The command line's flag for a library parameter (the name itself when it has none)."""
    return FLAGS.get(name, name)


def print_traceback(exc: BaseException) -> None:
    """``exc``'s traceback on stderr with every exception behind it, also those its one-line
    message stands in for (``feint --debug``)."""
    import traceback

    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__suppress_context__ = False
        link = link.__cause__ or link.__context__
    traceback.print_exception(exc, file=sys.stderr)


def error_text(exc: Exception) -> str:
    """A library error as the command line says it: parameters named by their flags."""
    from feint.errors import ParamError

    return one_line(exc.spelled(flag) if isinstance(exc, ParamError) else str(exc))


def _target_arg(p: argparse.ArgumentParser) -> None:
    """The target argument and --trust-model, shared by the commands that load a target."""
    p.add_argument("target", help=_target_help())
    _trust_arg(p)


def _trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust-model",
        action="store_true",
        help="allow model files that run code when loaded (pickle, joblib, skops files with "
        "types skops does not trust); only for files you trust",
    )


def _run_args(p: argparse.ArgumentParser, per_attack: bool) -> None:
    p.add_argument(
        "-i", "--sample-index", metavar="INDICES", help="samples to attack: 3, 1,4,7, 0:100 or range(100) (default 0)"
    )
    what = "[ATTACK.]NAME=VALUE" if per_attack else "NAME=VALUE"
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar=what,
        help="set an attack parameter (repeatable)"
        + ("; without ATTACK. it applies to every attack that has NAME" if per_attack else ""),
    )
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument(
        "--from-study",
        metavar="STUDY_ID",
        help="start from the best options a 'feint optimize' study found (--set still overrides them)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _studied(args, attack: str) -> list[tuple[str, Any]]:
    """The best options of ``--from-study`` for ``attack`` (none without it)."""
    if not getattr(args, "from_study", None):
        return []
    from feint import api
    from feint.attacks.catalog import get_attack
    from feint.errors import FeintError

    found = api.best_params(args.from_study)
    name = get_attack(attack).name
    if name not in found:
        raise FeintError(f"study {args.from_study} optimised {', '.join(found)}, not {name}")
    return list(found[name].items())


def _split_set(items: Sequence[str]) -> list[tuple[str, str]]:
    from feint.errors import FeintError

    out = []
    for item in items:
        if "=" not in item:
            raise FeintError(f"--set expects NAME=VALUE; got {item!r}")
        name, value = item.split("=", 1)
        out.append((name.strip(), value.strip()))
    return out


def _json(doc: Any) -> str:
    """A ``--json`` document's text: strict JSON (no ``NaN``, no ``Infinity``)."""
    from feint.report.jsonout import dumps

    return dumps(doc)


def _common(args: argparse.Namespace) -> dict[str, Any]:
    common: dict[str, Any] = {}
    if args.sample_index is not None:
        common["sample_index"] = args.sample_index
    if args.seed is not None:
        common["seed"] = args.seed
    return common


def cmd_list(args) -> int:
    from feint import api

    if args.what == "targets":
        rows = api.list_targets()
        cols = ["name", "data_type", "input_shape", "access", "classes", "description"]
    elif args.what == "attacks":
        rows = api.list_attacks()
        cols = ["name", "framework", "family", "access", "data_types", "summary"]
    else:
        rows = api.list_frameworks()
        cols = ["name", "attacks", "description"]
    if args.json:
        print(_json({args.what: rows}))
        return 0
    if args.what == "attacks":
        _print_attacks(rows)
        return 0
    from feint.report.console import print_table

    def cell(v):
        return (
            ", ".join(map(str, v))
            if isinstance(v, list) and len(v) <= 3
            else (f"{len(v)}: {', '.join(map(str, v[:3]))}, ..." if isinstance(v, list) else v)
        )

    print_table(
        stdout_console(),
        args.what.capitalize(),
        [c.replace("_", " ") for c in cols],
        [[cell(r[c]) for c in cols] for r in rows],
    )
    return 0


def _print_attacks(rows: list[dict[str, Any]]) -> None:
    """The attack list as one compact table: names whole, Counterfit's names for each, the
    summary cut to its title (``feint info`` has the rest) and left out on a narrow terminal."""
    from rich import box
    from rich.table import Table

    console = stdout_console()
    if not console.is_terminal:
        console.width = max(console.width, 160)  # piped: never cut a name
    table = Table(title=f"Attacks ({len(rows)})", title_justify="left", box=box.SIMPLE_HEAD)
    cols = ["name", "framework", "family", "access", "data types"]
    for c in cols:
        table.add_column(c, no_wrap=True)
    table.add_column("Counterfit names", overflow="fold")
    wide = console.width >= 140
    if wide:
        table.add_column("summary", overflow="fold")
    for r in rows:
        cells = [r["name"], r["framework"], r["family"], r["access"], ",".join(r["data_types"])]
        cells.append(", ".join(r.get("aliases", [])) or "-")
        if wide:
            cells.append(r["summary"].split(": ", 1)[0].rstrip("."))
        table.add_row(*cells)
    console.print(table)


def cmd_info(args) -> int:
    from feint import api

    doc = api.attack_info(args.attack)
    params = doc["params"]
    if args.json:
        print(_json(doc))
        return 0
    from feint.report.console import print_table

    console = stdout_console()
    console.print(
        f"[bold]{doc['name']}[/bold] ({doc['framework']}, {doc['family']}, {doc['access']}; "
        f"{', '.join(doc['data_types'])}): {doc['summary']}"
    )
    if doc["reference"]:
        console.print(f"Reference: {doc['reference']}")
    print_table(
        console,
        "Options",
        ["Name", "Type", "Default", "Range", "Doc"],
        [[p["name"], p["type"], p["default"], p["range"], p["doc"]] for p in params],
    )
    return 0


PARTIAL_EXIT = 3  # a run or scan stopped by a query or time budget: stored, resumable


def cmd_run(args) -> int:
    from feint import api
    from feint.errors import FeintError

    if args.resume is not None:
        given = [
            name
            for name, value in (
                ("TARGET", args.target),
                ("ATTACK", args.attack),
                ("-i", args.sample_index),
                ("--seed", args.seed),
                ("--set", args.set),
            )
            if value
        ]
        if given:
            raise FeintError(f"--resume continues the stored run with its own options; leave out {', '.join(given)}")
        store = _store()
        found = store.get_run(args.resume)
        left = (found.metrics.get("samples_planned", found.n) - found.n) if found is not None else 0
        with Progress(not args.json, left, f"resuming run {args.resume}") as bar:
            run = api.resume_run(args.resume, trust=args.trust_model, store=store, progress=bar.advance)
        return _run_outcome(args, run)
    if not args.target or not args.attack:
        raise FeintError("run needs a TARGET and an ATTACK (feint run TARGET ATTACK), or --resume RUN_ID")
    attack = api.new_attack(args.attack, [*_studied(args, args.attack), *_common(args).items(), *_split_set(args.set)])
    target = api.load_target(args.target, trust=args.trust_model, attacks=[attack.name])
    say_fixed(target)
    with Progress(not args.json, len(attack.shape.samples), f"{attack.name} on {target.target_name}") as bar:
        run = api.run(target, attack, progress=bar.advance)
    return _run_outcome(args, run)


def say_fixed(target) -> None:
    """One line on stderr for a target with text columns: the attacks leave them as they are."""
    if target.fixed_columns:
        sys.stderr.write(
            f"feint: target {target.target_name}: the text columns {', '.join(target.fixed_columns)} are held "
            f"fixed; attacks change the {len(target.columns or ())} numeric columns only, and distances are over them\n"
        )


def _run_outcome(args, run, again: str = "feint run") -> int:
    """Print a run; for one a query budget stopped, say so on stderr (one line, with the
    command that continues it) and exit with :data:`PARTIAL_EXIT`."""
    from feint.report.console import print_run
    from feint.report.jsonout import run_document

    if args.json:
        print(_json(run_document(run)))
    else:
        print_run(stdout_console(), run)
    if run.status != "partial":
        return 0
    sys.stderr.write(partial_line(run, again) + "\n")
    return PARTIAL_EXIT


def partial_line(run, again: str = "feint run") -> str:
    """The one line that says a run was stopped by a query budget, and how to continue it."""
    planned = run.metrics.get("samples_planned", "?")
    return (
        f"feint: run {run.run_id} stopped, budget reached ({run.metrics.get('stop_reason', 'a query budget')}); "
        f"{run.n} of {planned} samples stored; continue it with: {again} --resume {run.run_id}"
    )


def _split_sweep(items: Sequence[str]) -> dict[str, list[str]]:
    from feint.errors import FeintError

    out: dict[str, list[str]] = {}
    for item in items:
        name, _, values = item.partition("=")
        name = name.strip()
        parts = [v.strip() for v in values.split(",")]
        if not name or not any(parts):
            raise FeintError(f"--sweep expects [ATTACK.]NAME=V1,V2,...; got {item!r}")
        if not all(parts):  # a stray comma is a mistake to say, not a value to skip
            raise FeintError(f"--sweep {name} has an empty value; expects [ATTACK.]NAME=V1,V2,...; got {item!r}")
        if name in out:
            raise FeintError(f"--sweep {name} is given twice; give all its values at once")
        out[name] = parts
    return out


def _write_reports(subject, reports, to_stderr: bool) -> None:
    from feint.report.formats import write

    for path, fmt in reports:
        written = write(subject, path, fmt)
        line = f"{fmt} report: {written}"
        if to_stderr:
            sys.stderr.write(line + "\n")
        else:
            stdout_console().print(line, soft_wrap=True, highlight=False)


def _gate_exit(gates: list[dict[str, Any]]) -> int:
    failed = [g for g in gates if g["failed"]]
    for g in failed:
        sys.stderr.write(f"feint: gate failed: {g['expr']} ({', '.join(g['attacks'])})\n")
    return 1 if failed else 0


def cmd_scan(args, target=None) -> int:
    """``feint scan``; the shell passes its active ``target`` (then ``args`` has none)."""
    from feint import api
    from feint.errors import FeintError
    from feint.report.gate import parse_gate

    again = "scan" if target is not None else "feint scan"  # the shell's spelling, or the command line's
    if args.resume is not None:
        return _resume(args, given_target=target is not None)
    if target is None and not args.target:
        raise FeintError("scan needs a TARGET (a built-in name or a target file), or --resume SCAN_ID")
    scale = _scale_options(args)
    # Every check that needs no model first: a bad gate, report name or sweep costs nothing.
    for expr in args.fail_on:
        parse_gate(expr)
    reports = _reports(args.report)
    sweep = _split_sweep(args.sweep)
    per_attack: dict[str, dict[str, Any]] = {}
    if args.from_study:
        from feint.attacks.catalog import get_attack

        best = api.best_params(args.from_study)
        for name in args.attacks or best:
            per_attack.setdefault(get_attack(name).name, {}).update(_studied(args, name))
    everyone: dict[str, str] = {}
    for name, value in _split_set(args.set):
        if "." in name:
            attack, param = name.rsplit(".", 1)  # art.pgd.max_iter: attack art.pgd
            per_attack.setdefault(attack, {})[param] = value
        else:
            everyone[name] = value
    params: dict[str, Any] = dict(per_attack)
    repeats = getattr(args, "num_iters", 1)
    if repeats != 1:
        if repeats < 1:
            raise FeintError(f"-n expects a number of runs per attack, 1 or more; got {repeats}")
        if not args.attacks:
            raise FeintError("-n repeats the attacks named with -a; name them")
        if args.suite:
            raise FeintError("--suite runs each attack once per severity; leave out -n")
        from feint.attacks.catalog import get_attack

        seed = args.seed or 0
        for name in args.attacks:
            own = params.pop(name, None) or params.get(get_attack(name).name) or {}
            params[get_attack(name).name] = [{**own, "seed": seed + i} for i in range(repeats)]
    if target is None:  # refuse incompatible attacks before loading (or training) the target
        target = api.load_target(args.target, trust=args.trust_model, attacks=() if args.suite else args.attacks or ())
        say_fixed(target)

    def continuing(scan_id: str) -> None:
        sys.stderr.write(
            f"feint: continuing unfinished scan {scan_id} (same target, attacks, options, "
            "samples and seed); only its units with no stored result run, and those another feint is "
            "running now are waited for\n"
        )

    store = _store()
    bar = ScanBar(not args.json)
    with aborted_scan(bar), bar:
        done = api.scan(
            target,
            args.attacks,
            params=params,
            common={**_common(args), **everyone},
            sweep=sweep,
            fail_on=args.fail_on,
            store=store,
            suite=args.suite,
            on_resume=continuing,
            on_progress=bar.update,
            **scale,
        )
    return _scan_outcome(args, store, done.scan_id, bar.last, reports, again)


def _reports(paths: Sequence[str]) -> list[tuple[str, str]]:
    """``--report`` files with their formats, each checked writable before any work."""
    from feint import api
    from feint.report.formats import format_for

    out = [(path, format_for(path)) for path in paths]
    for path, _ in out:
        api.check_output(path)
    return out


def cmd_evaluate(args, target=None) -> int:
    """``feint evaluate``; the shell passes its active ``target`` (then ``args`` has none)."""
    from feint import api
    from feint.errors import FeintError
    from feint.report.formats import Subject
    from feint.report.jsonout import dumps, gate_results, scan_document

    again = "evaluate" if target is not None else "feint evaluate"
    reports = _reports(args.report)
    store = _store()
    console = stdout_console()

    def stage(name: str, eps: float, attacked: int, turned: int) -> None:
        if not args.json:
            console.print(f"  eps {eps:g}  {name}: {turned} of {attacked} samples turned", highlight=False)

    if args.resume is not None:
        given = [
            f
            for f, v in (("TARGET", getattr(args, "target", None) if target is None else None), ("--eps", args.eps))
            if v
        ]
        if given:
            raise FeintError(f"--resume continues the stored evaluation; leave out {', '.join(given)}")
        record = store.scan_record(args.resume)
        if record is None or record["settings"].get("kind") != "evaluate":
            raise FeintError(f"no stored evaluation with id {args.resume!r}; recent: {', '.join(store.recent_ids())}")
        from feint.engine.evaluate import execute_evaluation
        from feint.targets import get_target

        try:
            done = execute_evaluation(get_target(record["target_spec"]), store, resume=args.resume, on_stage=stage)
        except KeyboardInterrupt:
            sys.stderr.write(
                f"feint: evaluation {args.resume} interrupted; continue it with: {again} --resume {args.resume}\n"
            )
            return 130
    else:
        if target is None and not args.target:
            raise FeintError("evaluate needs a TARGET (a built-in name or a target file), or --resume SCAN_ID")
        from feint.engine.evaluate import ENSEMBLES
        from feint.report.robustness import check_evaluation_gates

        check_evaluation_gates(args.fail_on)  # every check that needs no model first
        if args.version not in ENSEMBLES:
            raise FeintError(f"--version expects one of {', '.join(ENSEMBLES)}; got {args.version!r}")
        if target is None:
            target = api.load_target(args.target, trust=args.trust_model)
        started: list[str] = []

        def continuing(scan_id: str) -> None:
            sys.stderr.write(f"feint: continuing unfinished evaluation {scan_id} (same target and settings)\n")

        try:
            done = api.evaluate(
                target,
                norm=args.norm,
                eps=args.eps or [0.3],
                version=args.version,
                samples=args.sample_index,
                seed=args.seed,
                batch_size=args.batch_size,
                fail_on=args.fail_on,
                store=store,
                on_resume=continuing,
                on_stage=stage,
                on_start=started.append,
                checks=not args.no_checks,
            )
        except KeyboardInterrupt:
            ident = started[-1] if started else "SCAN_ID"
            sys.stderr.write(f"feint: evaluation {ident} interrupted; continue it with: {again} --resume {ident}\n")
            return 130
    scan = store.get_scan(done.scan_id)
    assert scan is not None
    checked = gate_results(scan)
    if args.json:
        print(dumps(scan_document(scan)))
    else:
        _print_scan(scan, False, checked)
    _write_reports(Subject("scan", scan), reports, to_stderr=args.json)
    return _gate_exit(checked)


def cmd_check(args) -> int:
    from feint import api
    from feint.report.console import print_checks

    target = api.load_target(args.target, trust=args.trust_model)
    found = api.check(target, args.sample_index, norm=args.norm, eps=args.eps, seed=args.seed)
    if args.json:
        print(_json({"target": target.target_name, "checks": found}))
    else:
        print_checks(stdout_console(), found)
    return 1 if any(c["status"] == "fail" for c in found) else 0


def cmd_optimize(args, target=None) -> int:
    """``feint optimize``; the shell passes its active ``target`` and ``args.attacks``."""
    from feint import api
    from feint.errors import FeintError

    if args.resume is None and target is None and not args.target:
        raise FeintError("optimize needs a TARGET and one or more ATTACKs, or --resume STUDY_ID")
    if args.resume is None and not args.attacks:
        raise FeintError("optimize needs one or more ATTACKs after the target, e.g. feint optimize digits_keras pgd")
    from feint.engine.optimize import OBJECTIVES

    if args.objective not in OBJECTIVES:
        raise FeintError(f"--objective expects one of {', '.join(OBJECTIVES)}; got {args.objective!r}")
    if args.trials < 1:
        raise FeintError(f"--trials expects 1 or more; got {args.trials}")
    fixed: dict[str, dict[str, str]] = {}
    names = list(args.attacks or [])
    for name, value in _split_set(args.set):
        attack, _, param = name.rpartition(".")
        for a in [attack] if attack else names:
            fixed.setdefault(a, {})[param] = value
    searched: dict[str, list[str]] = {}
    for item in args.params or []:
        attack, _, param = item.rpartition(".")
        for a in [attack] if attack else names:
            searched.setdefault(a, []).append(param)
    if args.resume is not None:
        summary = api.study(args.resume)
        target = api.load_target(summary["target"])
        names = list(summary["attacks"])
    elif target is None:
        target = api.load_target(args.target, trust=args.trust_model, attacks=names)
    console = stdout_console()

    def trial(attack: str, number: int, value: float | None, state: str) -> None:
        if not args.json:
            shown = "-" if value is None else f"{value:.4g}"
            console.print(f"  {attack} trial {number}: {state} {shown}", highlight=False)

    try:
        summary = api.optimize(
            target,
            names,
            trials=args.trials,
            objective=args.objective,
            samples=args.sample_index,
            seed=args.seed,
            fixed=fixed,
            params=searched,
            resume=args.resume,
            on_trial=trial,
        )
    except KeyboardInterrupt:
        sys.stderr.write(
            "feint: optimize interrupted; its finished trials are stored: feint optimize --resume STUDY_ID\n"
        )
        return 130
    if args.json:
        print(_json(summary))
    else:
        from feint.report.console import print_study

        print_study(console, summary)
    return 0


def _store():
    from feint.store.db import Store

    return Store()


def _scale_options(args) -> dict[str, Any]:
    """The executor and budget options of a scan, checked before anything loads."""
    from feint.errors import FeintError, ParamError

    if args.chunk_size is not None and args.chunk_size < 1:
        raise ParamError("{chunk_size} expects a number of samples, 1 or more; got {got}", got=args.chunk_size)
    if args.ray_address and args.executor != "ray":
        raise FeintError("--ray-address goes with --executor ray")
    if args.workers is not None and (args.workers < 1 or args.executor == "local" and args.workers != 1):
        raise FeintError(
            f"--workers expects 1 or more workers with --executor auto, process or ray; got {args.workers} "
            f"with --executor {args.executor}"
        )
    from feint.engine.budget import Budget

    Budget(args.max_queries, args.max_time)  # checks the values
    return {
        "executor": args.executor,
        "workers": args.workers,
        "ray_address": args.ray_address,
        "chunk_size": args.chunk_size,
        "max_queries": args.max_queries,
        "max_time": args.max_time,
    }


def _resume(args, given_target: bool = False) -> int:
    """``feint scan --resume SCAN_ID``: the stored plan, only its units with no result."""
    from feint import api
    from feint.errors import FeintError

    given = [
        flag
        for flag, value in (
            ("TARGET", args.target if not given_target else None),
            ("-a", args.attacks),
            ("--set", args.set),
            ("--sweep", args.sweep),
            ("--suite", args.suite),
            ("-i", args.sample_index),
            ("--seed", args.seed),
            ("--fail-on", args.fail_on),
            ("--chunk-size", args.chunk_size),
        )
        if value
    ]
    if given:
        raise FeintError(f"--resume continues the stored plan of the scan; leave out {', '.join(given)}")
    scale = _scale_options(args)
    scale.pop("chunk_size")
    reports = _reports(args.report)
    store = _store()
    record = store.scan_record(args.resume)
    if record is not None and record["status"] == "done":
        sys.stderr.write(f"feint: scan {args.resume} is complete; nothing left to run\n")
    bar = ScanBar(not args.json)
    with aborted_scan(bar), bar:
        api.resume(args.resume, store=store, on_progress=bar.update, **scale)
    return _scan_outcome(args, store, args.resume, bar.last, reports, "scan" if given_target else "feint scan")


def _scan_outcome(args, store, scan_id: str, state, reports, again: str = "feint scan") -> int:
    """Print a scan as stored, say why it stopped early, write its reports; the exit code."""
    from feint.engine.scan import unfinished_units
    from feint.report.formats import Subject
    from feint.report.jsonout import dumps, gate_results, scan_document

    scan = store.get_scan(scan_id)  # everything shown is rendered from the store
    checked = gate_results(scan)
    if args.json:
        print(dumps(scan_document(scan)))
    else:
        _print_scan(scan, args.by_label, checked)
    _write_reports(Subject("scan", scan), reports, to_stderr=args.json)
    status = scan.settings.get("status")
    if status in ("interrupted", "budget"):
        left = unfinished_units(store, scan_id)
        why = f"budget reached ({_spell_reason(state.stop_reason)})" if status == "budget" and state else "interrupted"
        parts = [
            f"{u['attack']} run {u['run_id']}: unit{'s' if len(u['units']) > 1 else ''} "
            f"{_numbers(u['units'])} ({u['samples']} samples)"
            for u in left
        ]
        sys.stderr.write(
            f"feint: scan {scan_id} stopped, {why}; not run: {'; '.join(parts) or 'nothing'}\n"
            f"feint: continue it with: {again} --resume {scan_id}\n"
        )
        if status == "interrupted":
            return 130
        # a failed gate says 1; else 3, as a run cut by its budget: a CI job must not read
        # an incomplete scan as a passing one
        return _gate_exit(checked) or PARTIAL_EXIT
    return _gate_exit(checked)


def _spell_reason(reason: str | None) -> str:
    """A budget's stop reason (``... of max_queries 100``) with the command line's flags; an
    endpoint's own ``max_queries`` (a key of its declaration) is left as it is."""
    import re

    return re.sub(r"(?<=of )(max_queries|max_time)\b", lambda m: flag(m.group(1)), reason or "")


def _numbers(values: Sequence[int]) -> str:
    """1,2,3,5 -> '1-3, 5'."""
    out: list[str] = []
    for v in sorted(values):
        if out and out[-1].split("-")[-1] == str(v - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{v}"
        else:
            out.append(str(v))
    return ", ".join(out)


def _print_scan(scan, by_label: bool, gates: list[dict[str, Any]]) -> None:
    from feint.report.console import print_gates, print_run, print_scan

    console = stdout_console()
    from feint.report.robustness import is_evaluation

    if is_evaluation(scan):  # its runs are stages: the table of robust accuracy says it all
        from feint.report.console import print_evaluation

        print_evaluation(console, scan)
        print_gates(console, gates)
        return
    if scan.settings.get("suite"):  # dozens of runs: the summary says what they found
        console.print(
            f"{len(scan.runs)} runs of suite {scan.settings['suite'].get('name')}; each run's samples: "
            f"feint show RUN_ID, or all of them: feint report {scan.scan_id} -f markdown"
        )
    else:
        for run in scan.runs:
            print_run(console, run)
            console.print()
    print_scan(console, scan, labels=by_label)
    print_gates(console, gates)


def cmd_show(args) -> int:
    from feint import api
    from feint.records import ScanResult
    from feint.report.console import print_run
    from feint.report.jsonout import gate_results, run_document, scan_document

    found = api.lookup(args.id)
    if isinstance(found, ScanResult):
        if args.json:
            print(_json(scan_document(found)))
        else:
            _print_scan(found, args.by_label, gate_results(found))
        return 0
    if args.json:
        print(_json(run_document(found)))
    else:
        print_run(stdout_console(), found)
    return 0


def cmd_report(args) -> int:
    from feint.errors import FeintError
    from feint.report.formats import format_for, gates_of, load, render, write
    from feint.report.gate import parse_gate
    from feint.store.db import Store

    fail_on = args.fail_on
    parsed = [parse_gate(expr) for expr in fail_on or []]
    fmt = args.format or (format_for(args.output) if args.output else "markdown")
    if args.gallery is not None and args.gallery < 0:
        raise FeintError(f"--gallery expects a number of samples, 0 or more; got {args.gallery}")
    if args.output:
        from feint import api

        api.check_output(args.output)
    subject = load(Store(), args.id)
    names = list(dict.fromkeys(r.attack for r in subject.scan.runs))
    for gate in parsed:
        gate.check_attacks(names)
    options = {"fail_on": fail_on, "gallery": args.gallery}
    if args.output:
        written = write(subject, args.output, fmt, **options)
        sys.stderr.write(f"{fmt} report of {subject.kind} {args.id}: {written}\n")
    else:
        sys.stdout.write(render(subject, fmt, **options))
    return _gate_exit(gates_of(subject, fail_on)) if fail_on else 0


def cmd_store(args) -> int:
    """``feint store check``: exit code 0 when the store is ok, 2 when it is damaged."""
    from feint import api

    checked = api.check_store()
    if args.json:
        print(_json(checked))
    elif checked["ok"]:
        print(f"store {checked['path']}: ok (integrity and foreign keys checked)")
    else:
        print(f"store {checked['path']}: damaged")
        for problem in checked["problems"]:
            print(f"  {problem}")
    return 0 if checked["ok"] else 2


def cmd_predict(args, target=None) -> int:
    """``feint predict``; the shell passes its active ``target``."""
    from feint import api
    from feint.config import feint_home
    from feint.engine.predict import default_image_dir, parse_sample_indices, prediction_document

    if args.output:
        api.check_output(args.output, folder=True)
    if target is None:
        target = api.load_target(args.target, trust=args.trust_model)
    run = getattr(args, "run", None)
    indices = None if run else parse_sample_indices(args.sample_index, target)
    folder = args.output or (
        default_image_dir(feint_home() / "artifacts" / "predict", target) if target.data_type == "image" else None
    )
    if run:
        predictions = api.predict_adversarial(target, run, image_dir=folder)
    else:
        predictions = api.predict(target, indices, image_dir=folder)
    if args.json:
        print(_json(prediction_document(target, predictions, folder)))
    else:
        print_predictions(stdout_console(), target, predictions)
    return 0


def print_predictions(console, target, predictions) -> None:
    """The table of ``feint predict`` (and the shell's ``predict``)."""
    from feint.records import labelled
    from feint.report.console import print_table

    known = [p.correct for p in predictions if p.correct is not None]
    from rich.markup import escape

    title = f"Predictions of {target.target_name}" + (f" ({sum(known)}/{len(known)} correct)" if known else "")
    has_true = any(p.true_label is not None for p in predictions)
    top = max((len(p.top) for p in predictions), default=0)
    scored = any(p.confidence is not None for p in predictions)  # a labels-only target tells no scores
    cols = (
        ["Sample"]
        + (["True Label"] if has_true else [])
        + (["Predicted (conf)", f"Top {top}"] if scored else ["Predicted"])
    )
    rows = []
    for p in predictions:
        mark = "" if p.correct is None else (" [green]ok[/green]" if p.correct else " [red]wrong[/red]")
        guess = [f"{escape(labelled(p.label, p.confidence))}{mark}"]
        if scored:
            guess.append(escape(", ".join(f"{lab} {c:.3f}" for lab, c in p.top)))
        true = [escape(str(p.true_label)) if p.true_label is not None else "-"] if has_true else []
        rows.append([p.index, *true, *guess])
    print_table(console, title, cols, rows, markup=True)
    images = [p.image for p in predictions if p.image]
    if images:
        from pathlib import Path

        folder = str(Path(images[0]).parent)
        console.print(f"Images ({len(images)}) in {folder}:", soft_wrap=True, highlight=False, markup=False)
        for path in images:
            console.print(f"  {path}", soft_wrap=True, highlight=False, markup=False)


COMMANDS = {
    "list": cmd_list,
    "info": cmd_info,
    "run": cmd_run,
    "scan": cmd_scan,
    "evaluate": cmd_evaluate,
    "check": cmd_check,
    "optimize": cmd_optimize,
    "show": cmd_show,
    "report": cmd_report,
    "store": cmd_store,
    "predict": cmd_predict,
}
