"""feint's interactive shell, in Counterfit's words: interact with a target, use an
attack, set its options, run it, scan, show, save, back.

A thin layer over the library of commands (:mod:`feint.api`), as the command line is:
``list``, ``predict`` and ``scan`` take the command line's own argument definitions and
run its command functions on the shell's live target (so they parse, check and render
exactly as ``feint list``, ``feint predict`` and ``feint scan`` do), and ``run`` makes the
library call that ``feint run`` makes, on the attack instance the shell holds, with the
options and run shape it was given. Runs and scans go to the same store as the CLI.

Counterfit's own commands and flags work here too: ``exit attack|target|counterfit``,
``show attacks``, ``show info --attack X``, ``save -p/-r``, ``run -v``, ``predict -r/-a``,
``scan -n/-v/-s/-i``, ``load FRAMEWORK``, ``reload``, ``setg``; those feint does another way
(``new``, ``docs``, ``scan -o``) answer with feint's spelling in one line (exit code 2 in a
script).

A mistake is one line on stderr and the session goes on; its hint names the shell's
``help``. Run from a script (``feint
shell -s FILE``, ``-c "A; B"`` or commands piped on stdin) the shell stops at the first
command that fails and exits with its code: 2 bad input, 1 a failed ``--fail-on`` gate or
an internal error, 3 a run stopped by its endpoint's query budget (stored as partial),
130 interrupted.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cmd2
from cmd2 import Cmd2ArgumentParser, Completions, with_argparser, with_argument_list, with_category
from cmd2.exceptions import Cmd2ArgparseError

from feint import __version__
from feint.attacks.params import Param
from feint.attacks.shape import SHAPE_PARAMS
from feint.errors import FeintError, UnknownName

if TYPE_CHECKING:  # pragma: no cover
    from feint.attacks.base import Attack
    from feint.records import RunResult
    from feint.targets.base import Target

__all__ = ["FeintShell", "run_shell", "split_commands", "parse_pairs", "HISTORY_FILE"]

HISTORY_FILE = "shell_history"  # in $FEINT_HOME

BANNER = f"""feint {__version__}: assess machine-learning models by attacking them.
Begin with 'list targets' and 'interact TARGET', then 'use ATTACK', 'set NAME VALUE' and 'run';
'scan -a ATTACK ...' runs several. 'help' lists every command, 'help COMMAND' explains one;
TAB completes; 'exit' leaves."""

TARGETS = "Targets"
ATTACKS = "Attacks"
RESULTS = "Results"
SHELL = "Shell"


# -- parsing helpers (no shell state) ---------------------------------------------------------


def split_commands(text: str) -> list[str]:
    """Split ``text`` on ``;`` and newlines outside quotes; drop blanks and ``#`` comments."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
            current.append(ch)
        elif ch in ";\n":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip() and not p.strip().startswith("#")]


def parse_pairs(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """``NAME VALUE``, ``--NAME VALUE`` or ``NAME=VALUE`` items, in order."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        name, eq, value = token.partition("=")
        if eq and name.strip("-"):
            out.append((name, value))
            i += 1
            continue
        if i + 1 >= len(tokens):
            raise FeintError(f"set expects NAME VALUE pairs (or --NAME VALUE, NAME=VALUE); {token!r} has no value")
        out.append((token, tokens[i + 1]))
        i += 2
    if not out:
        raise FeintError("set expects NAME VALUE pairs, e.g. 'set eps 0.2 max_iter 50'; 'show options' lists them")
    return out


_RANGE_TEXT = re.compile(r"range\(\s*\d+\s*(?:,\s*\d+\s*){0,2}\)")


def _tight_ranges(line: str) -> str:
    """``range(3, 6)`` as one word (``range(3,6)``), so that a command's words keep it whole."""
    return _RANGE_TEXT.sub(lambda m: re.sub(r"\s+", "", m.group(0)), line)


# -- completion -------------------------------------------------------------------------------


def _attack_names(text: str) -> list[str]:
    """Native attack names, and other frameworks' names once asked for (``art.``) or loaded;
    a framework is imported only when its names are needed. Counterfit's names complete
    where no feint name starts with what was typed (``sal`` gives ``saliency_map``)."""
    from feint.attacks.aliases import ALIASES
    from feint.attacks.catalog import FRAMEWORKS, attacks

    names = list(attacks("native"))
    for fw, (module, _) in FRAMEWORKS.items():
        if fw == "native":
            continue
        if text.startswith(fw + ".") or module in sys.modules:
            names += list(attacks(fw))
        else:
            names.append(fw + ".")
    if text and not any(n.startswith(text) for n in names):
        names += [n for n, a in ALIASES.items() if a.attack and n.startswith(text)]
    return names


def _complete_attack(app: FeintShell, text: str, line: str, begidx: int, endidx: int) -> Completions:
    found = app.basic_complete(text, line, begidx, endidx, _attack_names(text))
    if len(found) == 1 and found[0].text.endswith("."):  # a framework prefix: keep typing
        return Completions(items=list(found), allow_finalization=False)
    return found


def _complete_target(app: FeintShell, text: str, line: str, begidx: int, endidx: int) -> Completions:
    from feint.targets import BUILTIN

    names = app.basic_complete(text, line, begidx, endidx, sorted(BUILTIN))
    if names and not any(c in text for c in "/.~"):
        return names
    paths = app.path_complete(text, line, begidx, endidx)
    return Completions(items=[*names, *paths], allow_finalization=paths.allow_finalization if paths else True)


# -- parsers ----------------------------------------------------------------------------------


class _Parser(Cmd2ArgumentParser):
    """A command's parser whose mistakes are one line."""

    def error(self, message: str):
        from feint.cli.commands import plain

        sys.stderr.write(f"error: {self.prog}: {plain(message)}; see 'help {self.prog.split()[-1]}'\n")
        self.exit(2)


def _interact_parser(alias: bool = False) -> Cmd2ArgumentParser:
    p = _Parser(
        description=("(alias of interact) " if alias else "")
        + "Make TARGET the active target and drop the active attack. TARGET is a built-in "
        "name (see 'list targets') or anything else feint's targets accept."
    )
    p.add_argument("target", completer=_complete_target, help="the target to assess")
    p.add_argument(
        "--trust-model",
        action="store_true",
        help="allow model files that run code when loaded (pickle, joblib, untrusted skops "
        "types); only for files you trust",
    )
    return p


def _use_parser(alias: bool = False) -> Cmd2ArgumentParser:
    p = _Parser(
        description=("(alias of use) " if alias else "")
        + "Create a new instance of ATTACK for the active target, with a short id, and make it "
        "the active attack; 'use ID' goes back to an instance made earlier in this session."
    )
    p.add_argument("attack", completer=_complete_attack, help="an attack name (see 'list attacks') or an instance id")
    return p


def _list_parser() -> Cmd2ArgumentParser:
    from feint.cli.commands import list_arguments

    p = _Parser(description="List the targets, attacks or frameworks (as 'feint list' does).")
    list_arguments(p)
    return p


def _predict_parser() -> Cmd2ArgumentParser:
    from feint.cli.commands import predict_arguments

    p = _Parser(
        description="What the active target predicts for some of its samples: true label, predicted "
        "label and confidence, top 3 classes; image samples are saved as PNGs (as "
        "'feint predict' does). Default samples: the active attack's sample_index, or 0."
    )
    predict_arguments(p, default=None)
    _also_spelled(p, "sample_index", "--index")
    got = p.add_mutually_exclusive_group()
    got.add_argument("-r", "--random", action="store_true", help="one sample of the target, drawn at random")
    got.add_argument(
        "-a",
        "--attack-result",
        "--attack_result",
        action="store_true",
        help="the adversarial samples of the active attack's last run",
    )
    return p


def _also_spelled(p: argparse.ArgumentParser, dest: str, *spellings: str) -> None:
    """Give the option ``dest`` of ``p`` more spellings (Counterfit's)."""
    for action in p._actions:
        if action.dest == dest:
            action.option_strings = [*action.option_strings, *spellings]
            for spelling in spellings:
                p._option_string_actions[spelling] = action
            return
    raise KeyError(dest)


def _store_parser() -> Cmd2ArgumentParser:
    from feint.cli.commands import store_arguments

    p = _Parser(
        description="store check: SQLite's integrity and foreign-key checks of the store, without "
        "writing to it (as 'feint store check' does); a damaged store fails the command"
    )
    store_arguments(p)
    return p


def _show_parser() -> Cmd2ArgumentParser:
    p = _Parser(
        description="options: the active attack's options (current, previous, default, doc); "
        "info: the target and the attack; results: the active attack's last run; "
        "runs: the runs and scans of this session; attacks: the attack instances made on the "
        "active target in this session."
    )
    p.add_argument("what", choices=["options", "info", "results", "runs", "attacks"])
    p.add_argument(
        "--attack",
        metavar="ATTACK",
        completer=_complete_attack,
        help="for info: an attack name or an instance id; for options and results: an instance id "
        "(default: the active attack)",
    )
    return p


def _evaluate_parser() -> Cmd2ArgumentParser:
    from feint.cli.commands import evaluate_arguments

    p = _Parser(
        description="Robust accuracy of the active target per budget, as 'feint evaluate TARGET' "
        "gives it: the ensemble's attacks in turn on the samples still standing (--eps, --norm, "
        "--version standard|fast, -i, --fail-on, --report, --json, --resume)."
    )
    evaluate_arguments(p, with_target=False)
    return p


def _scan_parser() -> Cmd2ArgumentParser:
    from feint.cli.commands import GATE_HELP, scan_arguments

    p = _Parser(
        description="Run several attacks on the active target and summarise them, as 'feint scan "
        "TARGET' does, with the same options (--set, --seed, --sweep, --fail-on, --report, "
        "--json, --resume, executors and budgets). Ctrl-C stops it; the runs that finished "
        "are stored.",
        epilog=GATE_HELP,
    )
    scan_arguments(p, with_target=False)
    _also_spelled(p, "sample_index", "--sample_index")
    p.add_argument(
        "-o",
        "--options",
        "--optimize",
        nargs="?",
        const="optimize",
        metavar="HOW",
        help="Counterfit's choice of options (random or optimised): feint sweeps values with --sweep",
    )
    for action in p._actions:
        if action.dest == "attacks":
            action.set_completer(_complete_attack)  # type: ignore[attr-defined]
    return p


def _run_parser() -> Cmd2ArgumentParser:
    p = _Parser(
        description="Run the active attack with its current options on the active target, store "
        "the run and print it. Ctrl-C stops it (an unfinished run is not stored). A run that the "
        "endpoint's query budget (max_queries) stops is stored as partial (exit code 3 in a "
        "script); 'run --resume RUN_ID' continues it."
    )
    p.add_argument("-v", "--verbose", action="store_true", help="also print the options the run used")
    p.add_argument(
        "--resume", metavar="RUN_ID", help="continue a partial run (one a query budget stopped) on the active target"
    )
    return p


def _save_parser() -> Cmd2ArgumentParser:
    p = _Parser(
        description="Write the active attack's options and its results in this session to a JSON "
        "file and print its path (default: $FEINT_HOME/artifacts/saved/)."
    )
    p.add_argument("-o", "--output", metavar="FILE", completer=cmd2.Cmd.path_complete, help="write here")
    p.add_argument("-p", "--parameters", action="store_true", help="write the options only")
    p.add_argument("-r", "--results", action="store_true", help="write the results only")
    return p


def _exit_parser() -> Cmd2ArgumentParser:
    p = _Parser(
        description="Leave the shell; 'exit attack' leaves the active attack and 'exit target' the "
        "active target (Counterfit's spellings; 'exit counterfit' leaves the shell)."
    )
    p.add_argument("what", nargs="?", choices=["attack", "target", "counterfit"], help="what to leave")
    return p


def _load_parser() -> Cmd2ArgumentParser:
    from feint.attacks.catalog import FRAMEWORKS

    p = _Parser(
        description="Load attack frameworks now and say how many attacks each has (they also load "
        "on first use: 'list attacks' and any attack name load them)."
    )
    p.add_argument("framework", nargs="+", choices=sorted(FRAMEWORKS), help="the frameworks to load")
    p.add_argument(
        "-f", "--force-no-config", action="store_true", help="accepted for Counterfit's scripts (no config to skip)"
    )
    return p


def _reload_parser() -> Cmd2ArgumentParser:
    from feint.attacks.catalog import FRAMEWORKS

    p = _Parser(
        description="Read the active target's file again (after you changed it) and make it the "
        "active target, keeping the attack instances made on it."
    )
    p.add_argument("-t", "--target", action="store_true", help="the active target (the default)")
    p.add_argument("-c", "--commands", action="store_true", help="Counterfit's commands: not reloaded in feint")
    p.add_argument("-f", "--framework", choices=sorted(FRAMEWORKS), help="a framework: not reloaded in feint")
    return p


def _new_parser() -> Cmd2ArgumentParser:
    p = _Parser(
        description="Counterfit's 'new' made a target from a template. In feint a target is a file you "
        "write: a YAML declaration of a model file (FILE.yaml) or a Python file with a target class "
        "(FILE.py; a Counterfit CFTarget subclass works, its import line changed); then 'interact FILE'. "
        "The guide 'Your own models' in feint's documentation has both."
    )
    p.add_argument("-n", "--name", help="the target's name")
    p.add_argument("-d", "--data_type", "--data-type", help="its data type")
    return p


def _docs_parser() -> Cmd2ArgumentParser:
    p = _Parser(description="Counterfit's documentation server: in feint, 'help' and 'help COMMAND'.")
    p.add_argument("-p", "--port", help="unused")
    p.add_argument("-a", "--address", help="unused")
    return p


def _plain_parser(text: str) -> Cmd2ArgumentParser:
    return _Parser(description=text)


# -- the shell --------------------------------------------------------------------------------


class FeintShell(cmd2.Cmd):
    """The interactive shell. ``status`` is the exit code of the last command (0: it worked)."""

    # cmd2 commands that do not fit here: shell escapes, editors, Python, its own scripts and
    # settings. None removes a command, as cmd2 documents; its types allow only a command there.
    do_shell = None  # type: ignore[assignment]
    do_edit = None  # type: ignore[assignment]
    do_run_pyscript = None  # type: ignore[assignment]
    do_run_script = None  # type: ignore[assignment]
    do__relative_run_script = None  # type: ignore[assignment]
    do_shortcuts = None  # type: ignore[assignment]

    def __init__(self, interactive: bool = True, history_file: str = "", **kwargs: Any) -> None:
        super().__init__(
            allow_cli_args=False,
            allow_redirection=False,
            persistent_history_file=history_file,
            shortcuts={"?": "help"},
            include_py=False,
            auto_suggest=interactive,
            **kwargs,
        )
        self.interactive = interactive
        self.hidden_commands += ["macro"]
        self.intro = BANNER if interactive else ""
        self.target: Target | None = None
        self.target_spec: str | None = None
        self.attack: Attack | None = None
        self.instances: dict[str, tuple[str, Attack]] = {}  # attack id -> (target spec, attack)
        self.results: dict[str, list[RunResult]] = {}  # attack id -> its runs, oldest first
        self.session: list[dict[str, Any]] = []  # runs and scans of this session, for 'show runs'
        self.shape_history: dict[str, dict[str, list[Any]]] = {}  # attack id -> earlier shape values
        self.status = 0
        self._update_prompt()

    # -- state and output ---------------------------------------------------------------------
    def _update_prompt(self) -> None:
        if self.target is None:
            self.prompt = "feint> "
        elif self.attack is None:
            self.prompt = f"{self.target.target_name}> "
        else:
            self.prompt = f"{self.target.target_name}>{self.attack.name}:{self.attack.id}> "

    @staticmethod
    def _console():
        from feint.cli.render import stdout_console as _console

        return _console()

    def _fail(self, code: int, message: str) -> None:
        from feint.cli.commands import one_line

        self.status = code
        self.perror(f"error: {one_line(message)}")

    def _need_target(self) -> Target:
        if self.target is None:
            raise FeintError("no active target; 'interact TARGET' first ('list targets' shows them)")
        return self.target

    def _need_attack(self) -> Attack:
        self._need_target()
        if self.attack is None:
            raise FeintError("no active attack; 'use ATTACK' first ('list attacks' shows them)")
        return self.attack

    def _command(self, name: str, args: argparse.Namespace, **live: Any) -> int:
        """Run one of the command line's command functions (on the shell's live objects);
        its exit code becomes the status."""
        from feint.cli.commands import COMMANDS

        code = COMMANDS[name](args, **live)
        if code:
            self.status = code
        return code

    # -- cmd2 hooks -----------------------------------------------------------------------------
    def onecmd_plus_hooks(self, line: str, **kwargs: Any) -> bool:
        """Run a line of ';'-separated commands, stopping at the first that fails."""
        parts = split_commands(line) if ";" in line else [line]
        stop = False
        for part in parts or [""]:
            self.status = 0
            try:
                shlex.split(part)
            except ValueError as exc:  # an unclosed quote: a mistake, not a command that worked
                self._fail(2, f"cannot read the command {part.strip()!r}: {exc}; close its quotes")
                break
            stop = super().onecmd_plus_hooks(_tight_ranges(part), **kwargs)
            if stop or self.status:
                break
        return stop

    def onecmd(self, statement: Any, *, add_to_history: bool = True) -> bool:
        try:
            return super().onecmd(statement, add_to_history=add_to_history)
        except FeintError as exc:
            from feint.cli.commands import error_text, print_traceback

            if self.debug:
                print_traceback(exc)
            self._fail(2, error_text(exc))
        except Cmd2ArgparseError:
            self.status = 2  # the parser printed the line
        except KeyboardInterrupt:
            self._fail(130, "interrupted")
        return False

    def postcmd(self, stop: bool, statement: Any) -> bool:
        self._update_prompt()
        return stop

    def default(self, statement: Any) -> None:
        word = statement.command
        close = difflib.get_close_matches(word, self.get_visible_commands(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        self._fail(2, f"unknown command {word!r}{hint}; 'help' lists the commands")

    def pexcept(self, exception: BaseException, **kwargs: Any) -> None:
        self.status = 1
        if self.debug:
            super().pexcept(exception, **kwargs)
        else:
            self.perror(f"error: internal error: {type(exception).__name__}: {exception}")

    # -- targets ------------------------------------------------------------------------------
    @with_category(TARGETS)
    @with_argparser(_list_parser)
    def do_list(self, args: argparse.Namespace) -> None:
        self._command("list", args)

    @with_category(TARGETS)
    @with_argparser(lambda: _interact_parser())
    def do_interact(self, args: argparse.Namespace) -> None:
        self._interact(args.target, args.trust_model)

    @with_category(TARGETS)
    @with_argparser(lambda: _interact_parser(alias=True))
    def do_set_target(self, args: argparse.Namespace) -> None:
        self._interact(args.target, args.trust_model)

    def _interact(self, spec: str, trust: bool = False) -> None:
        from rich.markup import escape

        from feint.targets import get_target

        target = get_target(spec, trust=trust)
        # what rebuilds it, for the CLI commands the shell runs (a trusted file keeps its trust)
        self.target, self.target_spec, self.attack = target, getattr(target, "spec", spec), None
        d = target.describe()
        shape = "x".join(map(str, d["input_shape"]))
        acc = d.get("held_out_accuracy")
        self._console().print(
            f"[bold]{escape(str(d['name']))}[/bold]: {d['data_type']} {shape}, {len(d['classes'])} classes, "
            f"{d['samples']} samples, {d['access']}"
            + (f", held-out accuracy {100 * acc:.1f}%" if isinstance(acc, (int, float)) else ""),
            highlight=False,
        )

    @with_category(TARGETS)
    @with_argparser(_predict_parser)
    def do_predict(self, args: argparse.Namespace) -> None:
        target = self._need_target()
        if args.random:
            import random

            args.sample_index = str(random.randrange(len(target.X)))
        elif args.attack_result:
            attack = self._need_attack()
            runs = self.results.get(attack.id)
            if not runs:
                raise FeintError(f"no results for {attack.name}:{attack.id} yet; 'run' first")
            args.run = runs[-1].run_id
        if args.sample_index is None:
            args.sample_index = self.attack.shape.shown()["sample_index"] if self.attack is not None else "0"
        self._command("predict", args, target=target)

    # -- attacks ------------------------------------------------------------------------------
    @with_category(ATTACKS)
    @with_argparser(lambda: _use_parser())
    def do_use(self, args: argparse.Namespace) -> None:
        self._use(args.attack)

    @with_category(ATTACKS)
    @with_argparser(lambda: _use_parser(alias=True))
    def do_set_attack(self, args: argparse.Namespace) -> None:
        self._use(args.attack)

    def _use(self, name: str) -> None:
        from feint.attacks.catalog import check_target, get_attack

        target = self._need_target()
        if name in self.instances:
            spec, attack = self.instances[name]
            if spec != self.target_spec:
                raise FeintError(f"attack instance {name} belongs to target {spec}; 'interact {spec}' first")
            self.attack = attack
        else:
            cls = get_attack(name)
            check_target(cls, target)
            attack = cls()
            self.instances[attack.id] = (str(self.target_spec), attack)
            self.attack = attack
        a = self.attack
        self._console().print(
            f"[bold]{a.name}[/bold] ({a.framework}, {a.family}, {a.access}): {a.summary()}\n"
            f"attack id {a.id}; 'show options' lists its options, 'set NAME VALUE' changes them, 'run' runs it.",
            highlight=False,
        )

    @with_category(ATTACKS)
    @with_argument_list
    def do_set(self, argv: list[str]) -> None:
        """Set options of the active attack, then show them: set NAME VALUE [NAME VALUE ...]

        Also 'set --NAME VALUE' and 'set NAME=VALUE'. Values are parsed by the option's
        type and checked against its range; if one is wrong, none is changed. A changed
        sample_index takes effect on the next run."""
        self._set(argv)

    @with_category(ATTACKS)
    @with_argument_list
    def do_set_params(self, argv: list[str]) -> None:
        """(alias of set) Set options of the active attack: set_params NAME VALUE [NAME VALUE ...]"""
        self._set(argv)

    def _set(self, argv: list[str]) -> None:
        attack = self._need_attack()
        if argv and argv[0].lstrip("-") in ("optimize", "optimise"):
            self._optimize(attack, argv[1:])
            return
        pairs = parse_pairs(argv)
        for name, value in pairs:  # check every value before changing any
            self._spec(attack, name).parse(value)
        history = self.shape_history.setdefault(attack.id, {})
        for name, value in pairs:
            spec = self._spec(attack, name)
            if spec.name in SHAPE_PARAMS:
                before = attack.shape.get(spec.name)
                if attack.set(spec.name, value) != before:
                    history.setdefault(spec.name, []).append(before)
            else:
                attack.options.set(name, value)
        self._print_options(attack, changed={self._spec(attack, n).name for n, _ in pairs})

    def _optimize(self, attack: Attack, argv: list[str]) -> None:
        """``set --optimize [--trials N] [--objective X] [-i INDICES] [--seed S] [--params NAME ...]``:
        an Optuna study of the active attack on the active target (on the attack's samples
        unless -i says others), whose best options are then set."""
        from feint import api
        from feint.cli.commands import optimize_arguments

        p = _Parser(prog="set --optimize", description="optimise the active attack's options with Optuna")
        optimize_arguments(p)
        p.set_defaults(sample_index=None)
        args = p.parse_args(argv)
        if args.resume:
            raise FeintError(
                "set --optimize starts a study of the active attack; 'feint optimize --resume' finishes one"
            )
        target = self._need_target()
        console = self._console()

        def trial(name: str, number: int, value: float | None, state: str) -> None:
            console.print(f"  {name} trial {number}: {state} {'-' if value is None else format(value, '.4g')}")

        fixed = dict(parse_pairs(args.set)) if args.set else {}
        summary = api.optimize(
            target,
            [attack.name],
            trials=args.trials,
            objective=args.objective,
            samples=args.sample_index or list(attack.shape.samples),
            seed=args.seed,
            fixed={attack.name: fixed},
            params={attack.name: args.params} if args.params else None,
            on_trial=trial,
        )
        from feint.report.console import print_study

        print_study(console, summary)
        best = summary["attacks"][attack.name]["best_params"] or {}
        for name, value in best.items():
            attack.options.set(name, value)
        self._print_options(attack, changed=set(best))

    @staticmethod
    def _spec(attack: Attack, name: str) -> Param:
        """The parameter ``name`` of the attack's options or of its run shape."""
        key = name.strip().lstrip("-").replace("-", "_")
        if key in SHAPE_PARAMS:
            return SHAPE_PARAMS[key]
        if key not in attack.options.specs:
            raise UnknownName("parameter", name, [*attack.options.specs, *SHAPE_PARAMS])
        return attack.options.specs[key]

    def complete_set(self, text: str, line: str, begidx: int, endidx: int) -> Completions:
        if self.attack is None:
            return Completions()
        before = line[:begidx].split()[1:]
        pending = 0  # tokens since the last complete NAME VALUE pair
        for tok in before:
            pending = 0 if (pending == 0 and "=" in tok.strip("-")) else (pending + 1) % 2
        specs = {**self.attack.options.specs, **SHAPE_PARAMS}
        if pending == 0:
            dashes = "--" if text.startswith("-") else ""
            return self.basic_complete(text, line, begidx, endidx, [dashes + n for n in specs])
        spec = specs.get(before[-1].lstrip("-").replace("-", "_"))
        values: list[str] = []
        if spec is not None:
            from feint.attacks.params import Bool, Choice

            if isinstance(spec, Choice):
                values = list(spec.choices)
            elif isinstance(spec, Bool):
                values = ["true", "false"]
            else:
                values = [{**self.attack.options.shown(), **self.attack.shape.shown()}[spec.name]]
        return self.basic_complete(text, line, begidx, endidx, values)

    complete_set_params = complete_set

    def _print_options(self, attack: Attack, changed: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        from feint.report.console import print_table

        opts = attack.options
        history = self.shape_history.get(attack.id, {})
        rows = []
        for name, spec in {**opts.specs, **SHAPE_PARAMS}.items():
            shaped = name in SHAPE_PARAMS
            prev = history.get(name, []) if shaped else opts.previous[name]
            current = attack.shape.get(name) if shaped else opts.current[name]
            mark = "*" if name in changed else ""
            rows.append(
                [
                    name + mark,
                    spec.show(current),
                    spec.show(prev[-1]) if prev else "-",
                    spec.show(spec.default),
                    f"{spec.type_name} {spec.range_text()}".strip(),
                    spec.doc,
                ]
            )
        print_table(
            self._console(),
            f"{attack.name}:{attack.id} options on {self.target_spec}" + (" (* just set)" if changed else ""),
            ["Option", "Current", "Previous", "Default", "Accepts", "Doc"],
            rows,
        )

    @with_category(ATTACKS)
    @with_argparser(_run_parser)
    def do_run(self, args: argparse.Namespace) -> None:
        from feint import api
        from feint.cli.render import Progress as _Progress
        from feint.engine.run import prepare_run
        from feint.report.console import print_run

        if args.resume is not None:
            from feint.records import RunResult as _Run

            target = self._need_target()
            found = api.lookup(args.resume)
            left = int(found.metrics.get("samples_planned", 0)) - found.n if isinstance(found, _Run) else 0
            try:
                with _Progress(True, max(left, 0), f"resuming run {args.resume}") as bar:
                    run = api.resume_run(args.resume, target, progress=bar.advance)
            except KeyboardInterrupt:
                self._fail(130, "run interrupted; what it did before stays stored as it was")
                return
            print_run(self._console(), run)
            self._partial(run)
            return
        attack = self._need_attack()
        target = self._need_target()
        indices, _ = prepare_run(target, attack)  # every check before any work
        try:
            with _Progress(True, len(indices), f"{attack.name} on {target.target_name}") as bar:
                run = api.run(target, attack, progress=bar.advance)
        except KeyboardInterrupt:
            self._fail(130, "run interrupted; it did not finish, so nothing was stored")
            return
        self.results.setdefault(attack.id, []).append(run)
        self.session.append(
            {
                "kind": "run",
                "id": run.run_id,
                "what": f"{attack.name}:{attack.id}",
                "target": run.target,
                "samples": run.n,
                "successes": run.successes,
                "time": run.elapsed_s,
            }
        )
        print_run(self._console(), run)
        if args.verbose:
            self._print_options(attack)
        self._partial(run)

    def _partial(self, run) -> None:
        """Say that a query budget stopped ``run`` (one line, and how to continue it)."""
        from feint.cli.commands import PARTIAL_EXIT, partial_line

        if run.status == "partial":
            self.status = PARTIAL_EXIT
            self.perror(partial_line(run, "run").removeprefix("feint: "))

    @with_category(ATTACKS)
    @with_argparser(_scan_parser)
    def do_scan(self, args: argparse.Namespace) -> None:
        from feint.store.db import Store

        target = self._need_target()
        if args.options is not None:
            raise FeintError(
                f"scan -o {args.options} (Counterfit's random or optimised options) is --sweep in feint: "
                "'scan -a ATTACK --sweep NAME=V1,V2,...' runs each value and reports success against it"
            )
        store = Store()
        try:
            before = set(store.recent_ids(1000))
            interrupted = said = False
            try:
                self._command("scan", args, target=target)
            except KeyboardInterrupt as exc:
                from feint.cli.render import ScanAborted

                interrupted, said = True, isinstance(exc, ScanAborted)
            new = [i for i in store.recent_ids(20) if i not in before]
            scans = [scan for scan in map(store.get_scan, reversed(new)) if scan is not None]
            for scan in scans:
                self.session.append(
                    {
                        "kind": "scan",
                        "id": scan.scan_id,
                        "what": ", ".join(dict.fromkeys(r.attack for r in scan.runs)),
                        "target": scan.target,
                        "samples": sum(r.n for r in scan.runs),
                        "successes": sum(r.successes for r in scan.runs),
                        "time": sum(r.elapsed_s for r in scan.runs),
                    }
                )
            if said:  # the scan named itself and its resume command
                self.status = 130
            elif interrupted:
                more = f"; 'scan --resume {scans[-1].scan_id}' continues it" if scans else ""
                self._fail(130, f"scan interrupted; the runs that finished are stored{more}")
        finally:
            store.close()

    @with_category(ATTACKS)
    @with_argparser(_evaluate_parser)
    def do_evaluate(self, args: argparse.Namespace) -> None:
        target = None if args.resume else self._need_target()
        try:
            self._command("evaluate", args, target=target)
        except KeyboardInterrupt:
            self._fail(130, "evaluation interrupted; the stages that finished are stored")

    # -- results ------------------------------------------------------------------------------
    @with_category(RESULTS)
    @with_argparser(_store_parser)
    def do_store(self, args: argparse.Namespace) -> None:
        self._command("store", args)

    @with_category(RESULTS)
    @with_argparser(_show_parser)
    def do_show(self, args: argparse.Namespace) -> None:
        if args.attack is not None and args.what not in ("options", "info", "results"):
            raise FeintError(f"show {args.what} takes no --attack; 'show info --attack ATTACK' does")
        if args.what == "options":
            self._print_options(self._instance(args.attack))
        elif args.what == "info":
            self._show_info(args.attack)
        elif args.what == "attacks":
            self._show_attacks()
        elif args.what == "results":
            from feint.report.console import print_run

            attack = self._instance(args.attack)
            runs = self.results.get(attack.id)
            if not runs:
                raise FeintError(f"no results for {attack.name}:{attack.id} yet; 'run' first")
            print_run(self._console(), runs[-1])
        else:
            from feint.report.console import print_table

            if not self.session:
                self._console().print("no runs or scans in this session yet")
                return
            print_table(
                self._console(),
                "This session",
                ["Kind", "Id", "Attack", "Target", "Samples", "Successes", "Time [s]"],
                [
                    [r["kind"], r["id"], r["what"], r["target"], r["samples"], r["successes"], f"{r['time']:.2f}"]
                    for r in self.session
                ],
            )
            self._console().print("'feint show ID' (or 'feint report ID') reprints one from the store.")

    def _instance(self, wanted: str | None) -> Attack:
        """The active attack, or the instance of this session with id ``wanted``."""
        if wanted is None:
            return self._need_attack()
        if wanted not in self.instances:
            shown = ", ".join(self.instances) or "none yet ('use ATTACK' makes one)"
            raise FeintError(f"no attack instance {wanted!r} in this session; accepted: {shown}")
        return self.instances[wanted][1]

    def _show_attacks(self) -> None:
        from feint.report.console import print_table

        self._need_target()
        rows = []
        for attack_id, (spec, attack) in self.instances.items():
            if spec != self.target_spec:
                continue
            runs = self.results.get(attack_id, [])
            last = runs[-1] if runs else None
            rows.append(
                [
                    attack_id + (" *" if attack is self.attack else ""),
                    attack.name,
                    attack.shape.shown()["sample_index"],
                    len(runs),
                    f"{last.successes}/{last.n}" if last else "-",
                    last.run_id if last else "-",
                ]
            )
        if not rows:
            self._console().print(
                f"no attacks on {self.target_spec} in this session yet; 'use ATTACK' makes one", markup=False
            )
            return
        print_table(
            self._console(),
            f"Attacks on {self.target_spec} (* active)",
            ["Id", "Attack", "Samples", "Runs", "Last success", "Last run"],
            rows,
        )

    def _show_info(self, wanted: str | None = None) -> None:
        from feint.report.console import print_table

        target = self._need_target()
        rows = []
        for key, value in target.describe().items():
            if isinstance(value, list) and len(value) > 12:
                value = ", ".join(map(str, value[:12])) + f", ... ({len(value)})"
            elif isinstance(value, list):
                value = ", ".join(map(str, value))
            rows.append([key, value])
        print_table(self._console(), f"Target {target.target_name}", ["Property", "Value"], rows)
        if wanted is not None:
            name = self.instances[wanted][1].name if wanted in self.instances else wanted
            self._command("info", argparse.Namespace(attack=name, json=False))
        elif self.attack is not None:
            self._command("info", argparse.Namespace(attack=self.attack.name, json=False))

    @with_category(RESULTS)
    @with_argparser(_save_parser)
    def do_save(self, args: argparse.Namespace) -> None:
        from feint.config import feint_home, path_component
        from feint.report.jsonout import run_document

        attack = self._need_attack()
        opts = attack.options
        both = not (args.parameters or args.results)
        doc: dict[str, Any] = {
            "schema": "feint/1",
            "kind": "attack",
            "target": self.target.target_name,  # type: ignore[union-attr]
            "attack": attack.name,
            "attack_id": attack.id,
            "framework": attack.framework,
            "options": {
                n: {
                    "current": s.show(attack.shape.get(n) if n in SHAPE_PARAMS else opts.current[n]),
                    "default": s.show(s.default),
                    "previous": [
                        s.show(v)
                        for v in (
                            self.shape_history.get(attack.id, {}).get(n, []) if n in SHAPE_PARAMS else opts.previous[n]
                        )
                    ],
                    "doc": s.doc,
                }
                for n, s in {**opts.specs, **SHAPE_PARAMS}.items()
            },
            "runs": [run_document(r) for r in self.results.get(attack.id, [])],
        }
        if not (both or args.parameters):
            del doc["options"]
        if not (both or args.results):
            del doc["runs"]
        path = (
            Path(args.output)
            if args.output
            else (
                feint_home()
                / "artifacts"
                / "saved"
                / path_component(
                    f"{doc['target']}-{attack.name}-{attack.id}{_save_suffix(args.parameters, args.results)}.json"
                )
            )
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2))
        except OSError as exc:
            raise FeintError(f"cannot write {path}: {exc.strerror or exc}") from None
        what = ", ".join(
            part
            for part, kept in (("options", "options" in doc), (f"{len(doc.get('runs', []))} run(s)", "runs" in doc))
            if kept
        )
        self._console().print(
            f"saved {attack.name}:{attack.id} ({what}) to {path}", soft_wrap=True, highlight=False, markup=False
        )

    # -- moving around --------------------------------------------------------------------------
    @with_category(SHELL)
    @with_argparser(lambda: _plain_parser("Leave the active attack; with none, leave the active target."))
    def do_back(self, args: argparse.Namespace) -> None:
        if self.attack is not None:
            self.attack = None
        elif self.target is not None:
            self.target = self.target_spec = None
        else:
            self._console().print("nothing to leave; 'exit' quits the shell")

    @with_category(SHELL)
    @with_argparser(_exit_parser)
    def do_exit(self, args: argparse.Namespace) -> bool:
        if args.what == "attack":
            self._need_attack()
            self.attack = None
            return False
        if args.what == "target":
            self._need_target()
            self.target = self.target_spec = None
            self.attack = None
            return False
        return True

    @with_category(SHELL)
    @with_argparser(_load_parser)
    def do_load(self, args: argparse.Namespace) -> None:
        from feint.attacks.catalog import attacks

        for framework in dict.fromkeys(args.framework):
            self._console().print(f"{framework}: {len(attacks(framework))} attacks loaded", highlight=False)

    @with_category(TARGETS)
    @with_argparser(_reload_parser)
    def do_reload(self, args: argparse.Namespace) -> None:
        if args.commands or args.framework:
            what = "the shell's commands" if args.commands else f"framework {args.framework}"
            raise FeintError(f"{what} are not reloaded in a running shell; 'exit' and start it again")
        self._need_target()
        from feint.targets import reload_target

        keep = self.attack
        target = reload_target(str(self.target_spec))
        self.target = target
        self.attack = keep
        self._console().print(f"read {self.target_spec} again: {target.target_name}", highlight=False, markup=False)

    @with_category(TARGETS)
    @with_argparser(_new_parser)
    def do_new(self, args: argparse.Namespace) -> None:
        raise FeintError(
            "'new' is a file in feint: declare your model in FILE.yaml or write a target class in "
            "FILE.py (a Counterfit CFTarget subclass works), then 'interact FILE'; 'help new' says more"
        )

    @with_category(SHELL)
    @with_argparser(_docs_parser)
    def do_docs(self, args: argparse.Namespace) -> None:
        raise FeintError("'docs' is 'help' in feint: 'help' lists the commands, 'help COMMAND' explains one")

    @with_category(SHELL)
    @with_argument_list
    def do_setg(self, argv: list[str]) -> None:
        """The shell's own settings (Counterfit's 'setg'): 'setg' lists them, 'setg NAME VALUE' sets one."""
        from feint.report.console import print_table

        if not argv:
            print_table(
                self._console(),
                "Shell settings",
                ["Name", "Value", "Description"],
                [[n, str(st.value), st.description] for n, st in sorted(self.settables.items())],
            )
            return
        if len(argv) != 2:
            raise FeintError("setg expects NAME VALUE, e.g. 'setg debug true'; 'setg' lists the settings")
        name, value = argv
        if name not in self.settables:
            raise UnknownName("setting", name, sorted(self.settables))
        try:
            self.settables[name].value = value
        except (ValueError, TypeError) as exc:
            raise FeintError(f"setting {name!r}: {exc}") from None
        self._console().print(f"{name}: {self.settables[name].value}", highlight=False)

    @with_category(SHELL)
    @with_argparser(lambda: _plain_parser("Leave the shell (as exit)."))
    def do_quit(self, args: argparse.Namespace) -> bool:
        return True

    # -- scripts --------------------------------------------------------------------------------
    def run_commands(self, lines: Sequence[str], echo: bool = True, keep_going: bool = False) -> int:
        """Run commands as a script, each echoed after the prompt: stop at the first that
        fails (or, with ``keep_going``, go on); return the first failure's code, else 0."""
        first = 0
        for line in lines:
            for part in split_commands(line):
                if echo:
                    from rich.markup import escape

                    self._console().print(f"[dim]{escape(self.prompt + part)}[/dim]", highlight=False, soft_wrap=True)
                stop = self.onecmd_plus_hooks(part)
                first = first or self.status
                if stop or (self.status and not keep_going):
                    return first
        return first


def _save_suffix(parameters: bool, results: bool) -> str:
    """What a saved file's name says it holds, when not both."""
    if parameters and not results:
        return "-options"
    if results and not parameters:
        return "-results"
    return ""


def run_shell(
    script: str | None = None, commands: str | None = None, keep_going: bool = False, debug: bool = False
) -> int:
    """``feint shell``: interactive on a terminal, else the commands of ``-c``, ``-s`` or stdin;
    ``debug`` prints the traceback of every error (cmd2's ``debug`` setting)."""
    if commands is not None:
        lines = [commands]
    elif script is not None:
        try:
            lines = Path(script).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise FeintError(f"cannot read the script {script}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise FeintError(
                f"cannot read the script {script}: it is not UTF-8 text; accepted: shell commands"
            ) from None
    elif not sys.stdin.isatty():
        try:
            lines = sys.stdin.read().splitlines()
        except UnicodeDecodeError:
            raise FeintError("cannot read the commands on stdin: they are not UTF-8 text") from None
    else:
        from feint.config import feint_home

        shell = FeintShell(interactive=True, history_file=str(feint_home() / HISTORY_FILE))
        shell.debug = debug
        shell.cmdloop()
        return 0
    shell = FeintShell(interactive=False)
    shell.debug = debug
    return shell.run_commands(lines, keep_going=keep_going)
