"""The scan plan: one attack instance per parameter set; sweeps multiply the sets."""

import pytest

from feint.engine.scan import plan_scan
from feint.errors import FeintError


def _plan(target, *args, **kw):
    return [
        (
            a.name,
            a.options["eps"] if "eps" in a.options.specs else None,
            a.options["max_iter"] if "max_iter" in a.options.specs else None,
        )
        for a in plan_scan(target, *args, **kw)
    ]


def test_one_set_per_attack_by_default(digits_keras):
    plan = plan_scan(digits_keras, ["pgd", "jsma", "pgd"], {"pgd": {"eps": "0.2"}}, {"sample_index": "0:2"})
    assert [a.name for a in plan] == ["pgd", "jsma"]
    assert plan[0].options["eps"] == 0.2 and plan[1].shape.samples == (0, 1)


def test_parameter_sets_and_sweeps_multiply(digits_keras):
    sets = [{"max_iter": 5}, {"max_iter": 7}]
    assert _plan(digits_keras, ["pgd"], {"pgd": sets}, sweep={"eps": ["0.1", 0.2]}) == [
        ("pgd", 0.1, 5),
        ("pgd", 0.2, 5),
        ("pgd", 0.1, 7),
        ("pgd", 0.2, 7),
    ]


def test_common_values_reach_the_attacks_that_have_them_and_own_values_win(digits_keras):
    plan = plan_scan(digits_keras, ["pgd", "jsma"], {"pgd": {"eps": "0.1"}}, {"eps": "0.25", "theta": "0.5", "seed": 3})
    assert plan[0].options["eps"] == 0.1 and plan[1].options["theta"] == 0.5
    assert plan[0].shape.seed == plan[1].shape.seed == 3


def test_a_sweep_reaches_only_the_attacks_it_names(digits_keras):
    plan = plan_scan(digits_keras, ["pgd", "jsma"], sweep={"pgd.eps": [0.1, 0.2, 0.1]})
    assert [(a.name, a.options.shown().get("eps")) for a in plan] == [("pgd", "0.1"), ("pgd", "0.2"), ("jsma", None)]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"sweep": {"norm": ["1", "2"]}}, "--sweep needs a numeric parameter; pgd.norm is"),
        ({"sweep": {"batch_size": [1, 2]}}, "--sweep takes an attack parameter; batch_size shapes the run"),
        ({"sweep": {"eps": []}}, "--sweep eps needs at least one value"),
        ({"sweep": {"wat": [1]}}, "no attack of this scan has a parameter 'wat' to sweep"),
        ({"common": {"wat": 1}}, "no attack of this scan has a parameter 'wat'; use ATTACK.NAME=VALUE"),
        ({"params": {"jsma": {"theta": 1}}}, "unknown attack in --set 'jsma'"),
    ],
)
def test_bad_plans_are_refused_before_anything_runs(digits_keras, kw, message):
    from feint.cli.commands import error_text

    with pytest.raises(FeintError, match=None) as exc:
        plan_scan(digits_keras, ["pgd"], kw.get("params"), kw.get("common"), kw.get("sweep"))
    assert message in error_text(exc.value)  # as the command line says it


def test_a_sweep_reaches_attacks_whose_names_hold_dots(digits_keras):
    plan = plan_scan(digits_keras, ["art.fgsm", "pgd"], sweep={"art.fgsm.eps": ["0.1", "0.2"]})
    assert [(a.name, a.options.shown().get("eps")) for a in plan] == [
        ("art.fgsm", "0.1"),
        ("art.fgsm", "0.2"),
        ("pgd", "0.3"),
    ]
