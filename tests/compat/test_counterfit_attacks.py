"""Counterfit's attack options and its scripting API on feint: the checks of Counterfit's
``tests/counterfit/core/test_attacks_new.py`` (written anew, the import line feint's), then
``Counterfit.build_attack``/``run_attack`` on a Counterfit-shaped target, and Counterfit
target objects handed to feint's library calls."""

from __future__ import annotations

import numpy as np
import pytest

from feint.compat.counterfit import CFAttack, CFAttackOptions
from feint.errors import FeintError
from tests.compat.conftest import import_target

ALGORITHM = {"option_int": 1, "option_float": 1.0, "option_str": "hello"}
COUNTERFIT = {"sample_index": 0, "logger": "default"}


def _options() -> CFAttackOptions:
    return CFAttackOptions(
        **{**ALGORITHM, **COUNTERFIT},
        default_options_list=list(ALGORITHM),
        cfattack_options_list=list(COUNTERFIT),
    )


def test_cfattack_options():
    options = _options()
    assert options is not None
    assert (options.option_int, options.sample_index, options.logger) == (1, 0, "default")


def test_cfattack_get_default_options():
    options = _options()
    assert options.get_default_options() == ALGORITHM
    options.set_options({"option_int": 7})
    assert options.get_default_options() == ALGORITHM  # the values it started with


def test_cfattack_get_current_options():
    options = _options()
    options.set_options({"option_int": 5})
    current = options.get_current_options()
    assert current["option_int"] == 5 and current["option_str"] == "hello"
    assert "sample_index" not in current  # the algorithm's options only


def test_cfattack_get_all_options():
    assert _options().get_all_options() == {**ALGORITHM, **COUNTERFIT}


def test_cfattack_save_previous_options():
    options = _options()
    options.save_previous_options()
    assert len(options.previous_options) > 1
    options.set_options({"option_float": 2.5})
    assert options.previous_options[-1]["option_float"] == 1.0 and options.option_float == 2.5


def test_cfattack_options_start_untargeted_and_refuse_unknown_names():
    options = CFAttackOptions(targeted=True, eps=0.3, default_options_list=["targeted", "eps"])
    assert options.targeted is False and options.target_labels == 0
    with pytest.raises(FeintError, match=r"unknown option 'epz'; accepted: targeted, eps"):
        options.set_options({"epz": 1})
    assert len(options.previous_options) == 1  # nothing was set


def test_cfattack_record():
    attack = CFAttack(name="hop_skip_jump", target=None, framework="native", attack=None, options=_options())
    assert attack.attack_status == "pending" and len(attack.attack_id) == 8 and attack.results is None
    attack.set_status("complete")
    attack.set_elapsed_time(1.0, 3.5)
    assert (attack.attack_status, attack.elapsed_time) == ("complete", 2.5)


# -- Counterfit.build_attack / run_attack ----------------------------------------------------------


@pytest.fixture()
def digits(counterfit_folders):
    cls = import_target(counterfit_folders["1.1"] / "digits_mlp.py", "Digits")
    target = cls()
    target.load()
    return target


def test_build_and_run_an_attack_by_counterfits_name(digits, fresh_home):
    from feint import api
    from feint.compat.core import Counterfit

    cfattack = Counterfit.build_attack(digits, "HopSkipJump")
    assert cfattack.name == "hop_skip_jump" and cfattack.attack_status == "pending"
    assert digits.attacks[cfattack.attack_id] is cfattack
    assert cfattack.options.get_all_options()["sample_index"] == 0
    assert "max_iter" in cfattack.options.default_options_list
    cfattack.options.set_options({"sample_index": range(3), "max_iter": 2, "max_eval": 50, "init_eval": 10})
    assert Counterfit.run_attack(cfattack) is True
    assert cfattack.attack_status == "complete" and cfattack.elapsed_time > 0
    assert cfattack.results.shape == (3, 1, 28, 28) and cfattack.samples.shape == (3, 1, 28, 28)
    assert len(cfattack.success) == 3 and any(cfattack.success)
    final = digits.outputs_to_labels(digits.predict(cfattack.results))
    assert final == cfattack.final_labels  # the results are what the target was judged on
    assert cfattack.initial_labels == digits.outputs_to_labels(digits.predict(digits.get_samples(range(3))))
    assert 0 <= cfattack.results.min() and cfattack.results.max() <= 255
    stored = api.lookup(cfattack.run_summary["run_id"])  # stored like any run
    assert stored.successes == sum(cfattack.success) and stored.attack == "hop_skip_jump"


def test_build_attack_refusals(digits, fresh_home):
    from feint.compat.core import Counterfit

    with pytest.raises(FeintError, match=r"needs gradients \(open-box\)"):
        Counterfit.build_attack(digits, "carlini")
    with pytest.raises(FeintError, match=r"Counterfit's name for ART's LabelOnlyDecisionBoundary"):
        Counterfit.build_attack(digits, "label_only_boundary_distance")
    cfattack = Counterfit.build_attack(digits, "hop_skip_jump")
    cfattack.options.set_options({"max_iter": -3})
    with pytest.raises(FeintError, match=r"parameter 'max_iter' expects"):
        Counterfit.run_attack(cfattack)
    cfattack.options.set_options({"max_iter": 2, "sample_index": 999})
    with pytest.raises(FeintError, match=r"sample index 999 is outside"):
        Counterfit.run_attack(cfattack)


def test_build_target_from_functions(fresh_home):
    from feint.compat.core import Counterfit
    from feint.targets import get_target

    weights = np.array([[1.0, -1.0], [-1.0, 1.0]])
    rows = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], np.float32)

    def predict(x):
        z = np.asarray(x).reshape(len(x), 2) @ weights
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    target = Counterfit.build_target("tabular", "", ["left", "right"], "closed-box", (2,), lambda: None, predict, rows)
    wrapped = get_target(target)
    assert wrapped.outputs_to_labels(wrapped.predict(wrapped.X)) == ["left", "right", "left"]
    assert wrapped.spec == "<CFTarget object>"  # held in memory: scans run it in this process


# -- Counterfit target objects where feint's library takes a target ----------------------------------


def test_library_calls_take_counterfit_objects(digits, fresh_home):
    import feint
    from feint import api

    run = feint.execute_run(
        digits, feint.get_attack("hop_skip_jump")(sample_index="0:2", max_iter=2, max_eval=50, init_eval=10)
    )
    assert run.n == 2 and run.target == "digits_mlp"
    assert feint.get_target(digits) is feint.get_target(digits)  # wrapped once
    stored = api.run(digits, api.new_attack("HopSkipJump", {"max_iter": 2, "max_eval": 50, "init_eval": 10}))
    assert stored.attack == "hop_skip_jump" and stored.n == 1
    scan = api.scan(
        digits, ["hop_skip_jump"], common={"sample_index": "0:2", "max_iter": 2, "max_eval": 50, "init_eval": 10}
    )
    assert scan.runs[0].n == 2 and scan.target == "digits_mlp"


def test_an_object_that_is_no_target_is_refused_in_one_line(fresh_home):
    import feint
    from feint import api

    class Half:
        input_shape = (2,)

        def predict(self, x):
            return x

    for call in (
        lambda: feint.get_target(Half()),
        lambda: feint.execute_run(Half(), feint.get_attack("pgd")()),
        lambda: api.run(Half(), api.new_attack("pgd")),
        lambda: api.scan(Half(), ["pgd"]),
    ):
        with pytest.raises(FeintError) as err:
            call()
        assert str(err.value) == (
            "a Half object is not a target: it lacks load, output_classes, data_type (accepted: a "
            "feint.targets.Target, or a Counterfit target with load, predict, input_shape, output_classes, "
            "data_type and X)"
        )
