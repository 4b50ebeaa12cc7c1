"""feint's command line: a thin layer over the library that renders with rich.

Every user mistake (unknown name, bad value, incompatible attack, unknown id) is one
line on stderr and exit code 2; nothing stored is touched by a command that fails
its checks, since every check runs before any work starts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn, Sequence

from feint import __version__

__all__ = ["main", "build_parser"]

EPILOG = """examples:
  feint list attacks
  feint run digits_keras pgd -i 0:10 --set eps=0.2
  feint scan digits_keras -a pgd jsma wasserstein -i 0:20
  feint show SCAN_OR_RUN_ID --json

Data (trained models, the store, artifacts) lives in $FEINT_HOME, default the per-user
data folder. Exit codes: 0 done, 2 bad input, 130 interrupted."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"feint: error: {message}; see '{self.prog} --help'\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="feint", description="Assess the security of machine-learning models by attacking them.",
                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"feint {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    ls = sub.add_parser("list", help="list targets, attacks or frameworks")
    ls.add_argument("what", choices=["targets", "attacks", "frameworks"])
    ls.add_argument("--json", action="store_true", help="print one JSON document")

    info = sub.add_parser("info", help="an attack's description and options (type, default, range, doc)")
    info.add_argument("attack")
    info.add_argument("--json", action="store_true", help="print one JSON document")

    run = sub.add_parser("run", help="run one attack on samples of a target and store the results")
    run.add_argument("target")
    run.add_argument("attack")
    _run_args(run, per_attack=False)

    scan = sub.add_parser("scan", help="run several attacks on a target and summarise them",
                          description="Run each chosen attack once on the samples and print the summary "
                                      "by attack (and by label). Without -a, every attack compatible with "
                                      "the target runs.")
    scan.add_argument("target")
    scan.add_argument("-a", "--attacks", nargs="+", metavar="ATTACK", help="attacks to run (default: all compatible)")
    _run_args(scan, per_attack=True)
    scan.add_argument("--by-label", action="store_true", help="also summarise successes by input label")

    show = sub.add_parser("show", help="reprint a stored run or scan")
    show.add_argument("id", help="a run id or a scan id")
    show.add_argument("--by-label", action="store_true", help="for a scan, also the table by label")
    show.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def _run_args(p: argparse.ArgumentParser, per_attack: bool) -> None:
    p.add_argument("-i", "--sample-index", metavar="INDICES",
                   help="samples to attack: 3, 1,4,7 or 0:100 (default 0)")
    what = "[ATTACK.]NAME=VALUE" if per_attack else "NAME=VALUE"
    p.add_argument("--set", action="append", default=[], metavar=what,
                   help="set an attack parameter (repeatable)" +
                        ("; without ATTACK. it applies to every attack that has NAME" if per_attack else ""))
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _split_set(items: Sequence[str]) -> list[tuple[str, str]]:
    from feint.errors import FeintError

    out = []
    for item in items:
        if "=" not in item:
            raise FeintError(f"--set expects NAME=VALUE; got {item!r}")
        name, value = item.split("=", 1)
        out.append((name.strip(), value.strip()))
    return out


def _common(args: argparse.Namespace) -> dict[str, Any]:
    common: dict[str, Any] = {}
    if args.sample_index is not None:
        common["sample_index"] = args.sample_index
    if args.seed is not None:
        common["seed"] = args.seed
    return common


class _Progress:
    """A progress bar on stderr for long work, only on a terminal and not with --json."""

    def __init__(self, enabled: bool, total: int, label: str):
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(label, total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()

    def advance(self, n: int) -> None:
        if self.bar:
            self.bar.advance(self.task, n)

    def describe(self, text: str) -> None:
        if self.bar:
            self.bar.update(self.task, description=text)


def _console():
    from rich.console import Console

    return Console()


def cmd_list(args) -> int:
    from feint.attacks.catalog import attacks, frameworks
    from feint.targets import target_classes

    if args.what == "targets":
        rows = []
        for name, cls in target_classes().items():
            t = cls()
            rows.append({"name": name, "data_type": cls.data_type, "input_shape": list(cls.input_shape),
                         "classes": list(cls.output_classes), "bounds": list(cls.bounds),
                         "access": "open-box" if t.open_box else "closed-box", "description": cls.description})
        cols = ["name", "data_type", "input_shape", "access", "classes", "description"]
    elif args.what == "attacks":
        rows = [{"name": n, "framework": c.framework, "family": c.family, "access": c.access,
                 "data_types": list(c.data_types), "summary": c.summary()} for n, c in attacks().items()]
        cols = ["name", "framework", "family", "access", "data_types", "summary"]
    else:
        rows = [{"name": n, **v} for n, v in frameworks().items()]
        cols = ["name", "attacks", "description"]
    if args.json:
        print(json.dumps({args.what: rows}, indent=2))
        return 0
    from feint.report.console import print_table

    def cell(v):
        return ", ".join(map(str, v)) if isinstance(v, list) and len(v) <= 3 else (
            f"{len(v)}: {', '.join(map(str, v[:3]))}, ..." if isinstance(v, list) else v)

    print_table(_console(), args.what.capitalize(), [c.replace("_", " ") for c in cols],
                [[cell(r[c]) for c in cols] for r in rows])
    return 0


def cmd_info(args) -> int:
    from feint.attacks.catalog import get_attack

    cls = get_attack(args.attack)
    params = [{"name": n, "type": p.type_name, "default": p.show(p.default), "range": p.range_text(),
               "doc": p.doc} for n, p in cls.params.items()]
    doc = {"name": cls.name, "framework": cls.framework, "family": cls.family, "access": cls.access,
           "data_types": list(cls.data_types), "summary": cls.summary(), "reference": cls.reference,
           "params": params}
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    from feint.report.console import print_table

    console = _console()
    console.print(f"[bold]{cls.name}[/bold] ({cls.framework}, {cls.family}, {cls.access}; "
                  f"{', '.join(cls.data_types)}): {cls.summary()}")
    if cls.reference:
        console.print(f"Reference: {cls.reference}")
    print_table(console, "Options", ["Name", "Type", "Default", "Range", "Doc"],
                [[p["name"], p["type"], p["default"], p["range"], p["doc"]] for p in params])
    return 0


def cmd_run(args) -> int:
    from feint.attacks.catalog import get_attack
    from feint.engine.run import execute_run, prepare_run
    from feint.report.console import print_run
    from feint.report.jsonout import run_document
    from feint.store.db import Store
    from feint.targets import get_target

    cls = get_attack(args.attack)
    attack = cls(**_common(args))
    for name, value in _split_set(args.set):
        attack.options.set(name, value)
    target = get_target(args.target, load=False)
    cls.check_target(target)  # before loading (or training) anything
    target = get_target(args.target)
    indices, _ = prepare_run(target, attack)
    store = Store()
    log: list[dict] = []
    with _Progress(not args.json, len(indices), f"{attack.name} on {target.target_name}") as bar:
        run = execute_run(target, attack, store.artifacts_root, progress=bar.advance, query_log=log)
    store.add_run(run, log)
    if args.json:
        print(json.dumps(run_document(run), indent=2))
    else:
        print_run(_console(), run)
    return 0


def cmd_scan(args) -> int:
    from feint.engine.scan import execute_scan, plan_scan
    from feint.report.console import print_run, print_scan
    from feint.report.jsonout import scan_document
    from feint.store.db import Store
    from feint.targets import get_target

    target = get_target(args.target, load=False)
    per_attack: dict[str, dict[str, str]] = {}
    everyone: list[tuple[str, str]] = []
    for name, value in _split_set(args.set):
        if "." in name:
            attack, param = name.split(".", 1)
            per_attack.setdefault(attack, {})[param] = value
        else:
            everyone.append((name, value))
    if args.attacks:  # refuse incompatible attacks before loading (or training) the target
        from feint.attacks.catalog import get_attack

        for name in args.attacks:
            get_attack(name).check_target(target)
    target = get_target(args.target)
    plan = plan_scan(target, args.attacks, per_attack, _common(args))
    for name, value in everyone:
        holders = [a for a in plan if name.replace("-", "_").lstrip("-") in a.options.specs]
        if not holders:
            from feint.errors import FeintError

            raise FeintError(f"no attack of this scan has a parameter {name!r}; use ATTACK.NAME=VALUE")
        for a in holders:
            a.options.set(name, value)
    if everyone:
        from feint.engine.run import prepare_run

        for a in plan:
            prepare_run(target, a)
    store = Store()
    total = sum(len(a.options["sample_index"]) for a in plan)
    settings = {"attacks": [a.name for a in plan], "params": {a.name: a.options.shown() for a in plan}}
    with _Progress(not args.json, total, "scan") as bar:
        scan = execute_scan(target, plan, store, settings, progress=bar.advance)
    if args.json:
        print(json.dumps(scan_document(scan, with_labels=args.by_label), indent=2))
        return 0
    console = _console()
    for run in scan.runs:
        print_run(console, run)
        console.print()
    print_scan(console, scan, labels=args.by_label)
    return 0


def cmd_show(args) -> int:
    from feint.errors import FeintError
    from feint.report.console import print_run, print_scan
    from feint.report.jsonout import run_document, scan_document
    from feint.store.db import Store

    store = Store()
    scan = store.get_scan(args.id)
    if scan is not None:
        if args.json:
            print(json.dumps(scan_document(scan, with_labels=args.by_label), indent=2))
        else:
            console = _console()
            for run in scan.runs:
                print_run(console, run)
                console.print()
            print_scan(console, scan, labels=args.by_label)
        return 0
    run = store.get_run(args.id)
    if run is None:
        recent = store.recent_ids()
        raise FeintError(f"no stored run or scan with id {args.id!r}; recent: {', '.join(recent) or 'none'}")
    if args.json:
        print(json.dumps(run_document(run), indent=2))
    else:
        print_run(_console(), run)
    return 0


COMMANDS = {"list": cmd_list, "info": cmd_info, "run": cmd_run, "scan": cmd_scan, "show": cmd_show}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 0
    from feint.errors import FeintError

    try:
        return COMMANDS[args.command](args)
    except FeintError as exc:
        sys.stderr.write(f"feint: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("feint: interrupted; runs that finished are stored\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
