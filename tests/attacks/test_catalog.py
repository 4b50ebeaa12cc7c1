"""Table-driven checks over every native attack: the invariants a user relies on."""

import numpy as np
import pytest

from feint.attacks.catalog import attacks, get_attack
from feint.engine.run import execute_run
from feint.errors import Incompatible

# Small budgets keep the suite fast; the paper's parameters run in the benchmarks.
FAST = {
    "pgd": {"max_iter": 20},
    "jsma": {},
    "hop_skip_jump": {"max_iter": 5, "max_eval": 200, "init_eval": 20},
    "geoda": {"max_queries": 500},
    "surfree": {"max_queries": 500},
    "cgba": {"max_queries": 500},
    "rays": {"max_queries": 500},
    "wasserstein": {
        "max_iter": 100,
        "eps_iter": 4,
        "projected_sinkhorn_max_iter": 60,
        "conjugate_sinkhorn_max_iter": 60,
    },
    "apgd": {"max_iter": 10},
    "fab": {"max_iter": 10},
    "square": {"max_queries": 200},
    "fmn": {"steps": 20},
}
SAMPLES = "0:8"


def test_every_native_attack_is_covered():
    assert set(attacks("native")) == set(FAST)


@pytest.mark.parametrize("name", sorted(FAST))
def test_attack_contract(name, digits_keras):
    cls = get_attack(name)
    assert cls.summary() and cls.params and cls.access in ("open-box", "closed-box")
    for pname, p in cls.params.items():
        assert p.name == pname and p.doc
        assert p.validate(p.default) == p.default  # every default inside its own range
    run = execute_run(digits_keras, cls(sample_index=SAMPLES, **FAST[name]))
    adv = [s for s in run.samples]
    lo, hi = digits_keras.bounds
    clean_acc = np.mean([s.initial_label == s.true_label for s in adv])
    adv_acc = np.mean([s.final_label == s.true_label for s in adv])
    assert adv_acc < clean_acc
    assert run.success_rate >= 0.75
    for s in adv:
        assert s.forward_queries >= 2  # at least the first and the last prediction
        if cls.access == "open-box":
            assert s.gradient_queries >= 1  # every gradient counted
        else:
            assert s.gradient_queries == 0  # closed-box: labels only
        assert s.success == (s.final_label != s.initial_label)
    if name == "pgd":
        assert max(s.linf for s in adv) <= 0.3
        # 20 steps: 20 forward + 20 gradient, plus the two judged predictions and one check
        assert all(s.gradient_queries == 20 for s in adv)
    if name == "wasserstein":
        assert all(s.wasserstein is not None and np.isfinite(s.wasserstein) for s in adv)


@pytest.mark.parametrize("name", sorted(FAST))
def test_outputs_inside_bounds_and_seeded(name, digits_keras, tmp_path):
    kw = dict(sample_index="0:4", **FAST[name])
    if name == "pgd":
        kw["num_random_init"] = 1
    a = execute_run(digits_keras, get_attack(name)(**kw), artifacts_root=tmp_path / "a")
    b = execute_run(digits_keras, get_attack(name)(**kw), artifacts_root=tmp_path / "b")
    xa = np.load(tmp_path / "a" / a.run_id / "adversarial.npz")["x_adv"]
    xb = np.load(tmp_path / "b" / b.run_id / "adversarial.npz")["x_adv"]
    assert xa.min() >= 0.0 and xa.max() <= 1.0
    np.testing.assert_array_equal(xa, xb)


def test_l2_pgd_respects_its_budget(digits_keras):
    run = execute_run(digits_keras, get_attack("pgd")(sample_index="0:4", norm="2", eps=1.5, eps_step=0.5, max_iter=10))
    assert max(s.l2 for s in run.samples) <= 1.5 + 1e-5


def test_targeted_pgd_reaches_the_named_class(digits_keras):
    run = execute_run(
        digits_keras, get_attack("pgd")(sample_index="0:4", targeted=True, target_labels="3", max_iter=40, eps=0.4)
    )
    for s in run.samples:
        assert s.target_label == "3"
        assert s.success == (s.final_label == "3")
    assert run.successes >= 3


def test_jsma_changes_few_pixels_and_respects_gamma(digits_keras):
    run = execute_run(digits_keras, get_attack("jsma")(sample_index="0:4", gamma=0.05))
    assert all(s.l0 <= 0.05 * 784 + 2 for s in run.samples)


@pytest.mark.parametrize(
    "saliency, saliency_on, grads_per_step",
    [
        ("single", "probabilities", 1),
        ("pairwise", "probabilities", 1),
        ("single", "logits", 1),
        ("pairwise", "logits", 2),
    ],
)
def test_jsma_saliency_rules(digits_keras, saliency, saliency_on, grads_per_step):
    """On probabilities the others' gradient is minus the target's: one gradient per step."""
    attack = get_attack("jsma")(sample_index="0:4", saliency=saliency, saliency_on=saliency_on)
    run = execute_run(digits_keras, attack)
    assert run.successes == 4
    for s in run.samples:  # one forward per step plus the first and last judgement
        assert s.gradient_queries == grads_per_step * (s.forward_queries - 2)
        assert 0 < s.l0 <= 2 * (s.forward_queries - 2) and s.linf <= 1.0


def test_jsma_single_rule_picks_the_largest_allowed_gradients():
    import torch

    from feint.attacks.native.jsma import best_single

    alpha = torch.tensor([[0.5, 3.0, 2.0, 9.0, -1.0]])
    allowed = torch.tensor([[True, True, True, False, True]])
    assert sorted(best_single(alpha, allowed, increase=True)[0].tolist()) == [1, 2]
    assert sorted(best_single(alpha, allowed, increase=False)[0].tolist()) == [0, 4]


def test_early_stop_saves_queries(digits_keras):
    full = execute_run(digits_keras, get_attack("pgd")(sample_index="0:6", max_iter=30))
    early = execute_run(digits_keras, get_attack("pgd")(sample_index="0:6", max_iter=30, early_stop=True))
    assert early.gradient_queries < full.gradient_queries
    assert early.successes == full.successes


def test_gradient_attacks_refuse_closed_box_targets(digits_blackbox):
    with pytest.raises(Incompatible, match="needs gradients .* closed-box"):
        get_attack("pgd").check_target(digits_blackbox)
