"""feint's command line: a thin layer over the library that renders with rich.

The parser and the commands are in :mod:`feint.cli.commands` (the shell runs the same
ones); this module adds the shell as a command and maps failures to exit codes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from feint.cli.commands import COMMANDS as _COMMANDS
from feint.cli.commands import build_parser, error_text, print_traceback
from feint.cli.render import ScanAborted

__all__ = ["main", "build_parser", "COMMANDS"]


def cmd_shell(args) -> int:
    from feint.cli.shell import run_shell

    return run_shell(
        script=args.script, commands=args.commands, keep_going=args.keep_going, debug=getattr(args, "debug", False)
    )


COMMANDS = {**_COMMANDS, "shell": cmd_shell}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        if sys.stdin.isatty() and sys.stdout.isatty():  # a person at a terminal: the shell
            args = parser.parse_args(["--debug", "shell"] if args.debug else ["shell"])
        else:
            parser.print_help()
            return 0
    from feint.engine.allocator import tune_allocator
    from feint.errors import FeintError

    tune_allocator()
    try:
        return COMMANDS[args.command](args)
    except FeintError as exc:
        if args.debug:
            print_traceback(exc)
        sys.stderr.write(f"feint: error: {error_text(exc)}\n")
        return 2
    except ScanAborted as exc:
        return exc.code
    except KeyboardInterrupt:
        lost = {"run": "; the run was not stored"}.get(args.command, "")
        sys.stderr.write(f"feint: interrupted{lost}\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
