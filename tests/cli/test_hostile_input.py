"""Input that once ended in a traceback, a hang or the wrong samples ends in one line and
exit code 2, before any work starts and with nothing stored."""

from __future__ import annotations

import sqlite3

import pytest

from feint.cli.app import main


def _one_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (code, err)
    return lines[0]


@pytest.mark.parametrize(
    "command", [["run", "digits_keras", "pgd"], ["scan", "digits_keras", "-a", "pgd"], ["predict", "digits_keras"]]
)
@pytest.mark.parametrize(
    "indices, says",
    [
        ("99999999999999999999999", "below 1,000,000,000"),
        ("0:100000000", "at most 10,000,000"),
        ("range(0, 100000000)", "at most 10,000,000"),
        ("1 2", "got '1 2'"),
    ],
)
def test_sample_indices_out_of_bounds_or_unreadable_are_one_line(command, indices, says, capsys, fresh_home):
    line = _one_line(capsys, [*command, "-i", indices])
    assert says in line
    from feint.store.db import Store

    assert Store().recent_ids() == []  # nothing ran, nothing stored


def test_a_seed_beyond_its_range_is_one_line(capsys, fresh_home):
    line = _one_line(capsys, ["run", "digits_keras", "pgd", "--seed", "18446744073709551616"])
    assert "parameter 'seed' expects an integer in [0, 4294967295]" in line
    line = _one_line(capsys, ["scan", "digits_keras", "-a", "pgd", "--set", "seed=18446744073709551616"])
    assert "parameter 'seed' expects an integer in [0, 4294967295]" in line


def test_an_unclosed_quote_in_the_shell_fails_the_script(capsys, fresh_home):
    assert main(["shell", "-c", '"unclosed']) == 2
    assert "close its quotes" in capsys.readouterr().err


def test_a_store_from_a_newer_feint_is_refused_untouched(capsys, fresh_home):
    from feint.store.db import Store

    Store().close()
    path = fresh_home / "feint.db"
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    line = _one_line(capsys, ["show", "abc"])
    assert "was written by a newer feint (schema 99; this feint reads schemas up to" in line
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "99"
    db.close()


@pytest.mark.parametrize("expr", ["not " * 5000 + "success_rate > 0.2", "(" * 5000 + "success_rate > 0.2" + ")" * 5000])
def test_a_gate_nested_too_deep_is_one_line(expr, capsys, fresh_home):
    line = _one_line(capsys, ["scan", "digits_keras", "-a", "pgd", "--fail-on", expr])
    assert "nests 'not' and parentheses more than 50 deep; accepted: at most 50" in line
    assert len(line) < 300  # the expression is quoted cut, not whole


def test_a_gate_nested_within_the_limit_still_parses():
    from feint.report.gate import parse_gate

    summary = {"pgd": {"success_rate": 0.5}}
    even = parse_gate("not " * 40 + "(" * 9 + "success_rate > 0.2" + ")" * 9)
    odd = parse_gate("not " * 41 + "(" * 8 + "success_rate > 0.2" + ")" * 8)
    assert even.evaluate(summary).failed is True and odd.evaluate(summary).failed is False
