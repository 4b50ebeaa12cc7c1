"""The --fail-on language: parsed, never evaluated as Python; per attack or attack-qualified."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feint.report.gate import GateError, metric_names, parse_gate

SUMMARY = {
    "pgd": {
        "total_runs": 4,
        "samples": 40,
        "successes": 26,
        "success_rate": 0.65,
        "best_score": 1.0,
        "queries": {"min": 22.0, "avg": 22.0, "max": 22.0},
        "linf": {"min": 0.05, "avg": 0.2, "max": 0.3},
    },
    "jsma": {
        "total_runs": 1,
        "samples": 10,
        "successes": 10,
        "success_rate": 1.0,
        "best_score": None,
        "queries": {"min": 29.0, "avg": 499.1, "max": 1544.0},
        "linf": {"min": None, "avg": None, "max": None},
    },
}


@pytest.mark.parametrize(
    "expr, failed, attacks",
    [
        ("success_rate > 0.5", True, ["pgd", "jsma"]),
        ("success_rate > 0.7", True, ["jsma"]),
        ("success_rate > 70%", True, ["jsma"]),
        ("success_rate >= 1", True, ["jsma"]),
        ("success_rate > 1", False, []),
        ("pgd.success_rate > 0.5", True, ["pgd"]),
        ("pgd.success_rate > 0.9", False, []),
        ("pgd.success_rate > 0.9 or jsma.success_rate > 0.99", True, ["jsma"]),
        ("pgd.success_rate > 0.5 and jsma.successes == 10", True, ["pgd", "jsma"]),
        ("success_rate > 0.5 and queries.avg < 100", True, ["pgd"]),
        ("success_rate > 0.5 AND NOT queries.max > 100", True, ["pgd"]),
        ("not (0.1 <= linf.avg <= 0.3)", True, ["jsma"]),  # a missing value compares false
        ("best_score >= 0.5", True, ["pgd"]),
        ("0.6 < success_rate < 0.7", True, ["pgd"]),
        ("success_rate = 1", True, ["jsma"]),
        ("success_rate != 1", True, ["pgd"]),
        ("(successes > 20 or total_runs > 3) and pgd.best_score > 0.99", True, ["pgd"]),
        ("-1 < success_rate", True, ["pgd", "jsma"]),
        ("success_rate > 1e-1", True, ["pgd", "jsma"]),
    ],
)
def test_gates_fail_the_attacks_they_hold_for(expr, failed, attacks):
    result = parse_gate(expr).evaluate(SUMMARY)
    assert (result.failed, result.attacks) == (failed, attacks)


def test_the_values_read_are_kept_for_messages():
    result = parse_gate("pgd.success_rate > 0.5").evaluate(SUMMARY)
    assert result.values == {"pgd": {"success_rate": 0.65}}
    assert result.to_dict()["expr"] == "pgd.success_rate > 0.5"


@pytest.mark.parametrize(
    "expr, message",
    [
        ("", "it is empty"),
        ("success_rate >", "expected a number or a metric, found the end"),
        ("success_rate > 0.2 and", "expected a number or a metric, found the end"),
        ("success_rate", "expected a comparison"),
        ("(success_rate > 0.2", "expected ')'"),
        ("success_rate > 0.2)", "expected 'and', 'or' or the end, found ')'"),
        ("success_rate >> 2", "found '>' at position 15"),
        ("1 > 2", "a comparison needs a metric"),
        ("succes_rate > 0.2", "unknown metric 'succes_rate'"),
        ("queries > 5", "metric 'queries' in --fail-on 'queries > 5' needs a statistic: queries.min"),
        ("pgd.time_s > 5", "needs a statistic: pgd.time_s.min"),
        ("__import__('os').system('true')", 'unexpected "\'"'),
        ("success_rate > 0.2; rm -rf /", "unexpected ';'"),
        ("success_rate + 1 > 2", "unexpected '+'"),
    ],
)
def test_bad_expressions_are_one_line_errors(expr, message):
    with pytest.raises(GateError, match=None) as exc:
        parse_gate(expr)
    from feint.cli.commands import error_text

    text = error_text(exc.value)  # as the command line says it
    assert message in text and "\n" not in text


def test_unknown_attacks_are_refused_against_the_scan():
    gate = parse_gate("fgsm.success_rate > 0.5 or pgd.successes > 1")
    assert gate.attacks == ["fgsm", "pgd"]
    with pytest.raises(GateError, match="names attack 'fgsm', which this scan does not run; its attacks: pgd, jsma"):
        gate.check_attacks(["pgd", "jsma"])
    parse_gate("success_rate > 0.5").check_attacks([])  # no attack named: nothing to refuse


def test_every_metric_name_parses():
    for name in metric_names():
        assert parse_gate(f"{name} > 0").per_attack
        assert parse_gate(f"pgd.{name} > 0").attacks == ["pgd"]


@given(st.floats(0, 1), st.floats(0, 1), st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
def test_comparisons_agree_with_arithmetic(rate, threshold, op):
    import operator

    ops = {
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
        "==": operator.eq,
        "!=": operator.ne,
    }
    result = parse_gate(f"success_rate {op} {threshold!r}").evaluate({"a": {"success_rate": rate}})
    assert result.failed == ops[op](rate, threshold)


def test_attack_names_may_hold_dots():
    gate = parse_gate("art.fgsm.success_rate > 0.5 or art.fgsm.queries.avg > 10")
    assert gate.attacks == ["art.fgsm"] and not gate.per_attack
    result = gate.evaluate({"art.fgsm": {"success_rate": 0.75, "queries": {"avg": 2.0}}})
    assert (result.failed, result.attacks) == (True, ["art.fgsm"])
