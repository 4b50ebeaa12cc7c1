"""The contract every catalog entry keeps, native and ART alike, table-driven.

Each attack runs on two samples of a compatible built-in target (the closed-box one when
it can: it is the cheaper) with small budgets, and must: keep its outputs inside the
target's bounds, be stored and read back unchanged, count queries, and give the rows a
report prints. An attack no built-in target can serve must be refused with one line.
New catalog entries are picked up by themselves; the budget table only makes them fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from feint.attacks.catalog import attacks
from feint.engine.run import execute_run
from feint.errors import Incompatible
from feint.report.console import print_run
from feint.report.jsonout import run_document
from feint.store.db import Store

# Small budgets: options per attack (ART's defaults run in `feint run`, not here).
FAST: dict[str, dict] = {
    "pgd": {"max_iter": 5},
    "jsma": {"gamma": 0.02},
    "wasserstein": {
        "max_iter": 10,
        "eps_iter": 2,
        "projected_sinkhorn_max_iter": 30,
        "conjugate_sinkhorn_max_iter": 30,
    },
    "art.boundary": {"max_iter": 10, "num_trial": 5, "sample_size": 5, "init_size": 20, "targeted": False},
    "art.carlini_l2": {"max_iter": 1, "binary_search_steps": 1, "max_halving": 1, "max_doubling": 1},
    "art.carlini_linf": {"max_iter": 2, "initial_const": 1.0, "largest_const": 2.0},
    "art.deepfool": {"max_iter": 2, "nb_grads": 2},
    "art.elastic_net": {"max_iter": 2, "binary_search_steps": 1},
    "art.fgsm": {},
    "art.hop_skip_jump": {"max_iter": 2, "max_eval": 100, "init_eval": 10, "init_size": 20},
    "art.sign_opt": {"max_iter": 2, "num_trial": 10, "k": 20, "query_limit": 500, "max_queries": 600},
    "geoda": {"max_queries": 300},
    "rays": {"max_queries": 300},
    "art.newtonfool": {"max_iter": 3},
    "art.pixel": {"th": 10, "max_iter": 1, "es": 1},
    "art.threshold": {"th": 10, "max_iter": 1, "es": 1},
    "art.pgd": {"max_iter": 5},
    "art.jsma": {"gamma": 0.01},
    "art.simba": {"max_iter": 20},
    "art.spatial_transformation": {
        "max_translation": 10,
        "num_translations": 2,
        "max_rotation": 10,
        "num_rotations": 2,
    },
    "art.square": {"max_iter": 5},
    "art.universal_perturbation": {"max_iter": 1, "attacker": "fgsm"},
    "art.virtual_adversarial": {"max_iter": 1},
    "art.wasserstein": {
        "max_iter": 5,
        "eps_iter": 2,
        "conjugate_sinkhorn_max_iter": 20,
        "projected_sinkhorn_max_iter": 20,
        "regularization": 100,
    },
    "art.zoo": {"max_iter": 3, "nb_parallel": 8},
    "art.decision_tree": {},
    "art.copycat_cnn": {"nb_stolen": 50, "nb_epochs": 1},
    "art.knockoff_nets": {"nb_stolen": 50, "nb_epochs": 1},
    "art.functionally_equivalent": {"max_queries": 1000},
    "art.mi_face": {"max_iter": 5, "window_length": 2},
    "art.membership_rule_based": {},
}

# For an entry the table does not know yet: the usual budget options, made small.
SMALL = {
    "max_iter": 5,
    "max_eval": 100,
    "init_eval": 10,
    "init_size": 20,
    "num_trial": 5,
    "sample_size": 5,
    "eps_iter": 2,
    "binary_search_steps": 1,
    "nb_stolen": 50,
    "nb_epochs": 1,
    "projected_sinkhorn_max_iter": 30,
    "conjugate_sinkhorn_max_iter": 30,
}

CATALOG = attacks()
TARGETS = ("digits_blackbox", "digits_keras")  # the cheaper first


def budget(cls) -> dict:
    if cls.name in FAST:
        return FAST[cls.name]
    out = {}
    for name, value in SMALL.items():
        spec = cls.params.get(name)
        if spec is not None and isinstance(spec.default, int) and value < spec.default:
            out[name] = value
    return out


def pick_target(cls, request):
    for name in TARGETS:
        target = request.getfixturevalue(name)
        if cls.compatible(target):
            return target
    return None


def _stable(sample) -> dict:
    """A sample's result without where its evidence went."""
    d = sample.to_dict()
    d.pop("images", None)
    return d


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("contract") / "feint.db")


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_catalog_entry_keeps_the_contract(name, request, store):
    cls = CATALOG[name]
    assert cls.summary() and cls.family in ("evasion", "extraction", "inference")
    assert cls.access in ("open-box", "closed-box") and cls.data_types
    target = pick_target(cls, request)
    if target is None:  # no built-in target can serve it: refused before anything runs, in one line
        for tname in TARGETS:
            with pytest.raises(Incompatible) as refusal:
                cls.check_target(request.getfixturevalue(tname))
            assert "\n" not in str(refusal.value) and cls.name in str(refusal.value)
        return

    run = execute_run(target, cls(sample_index="0:2", **budget(cls)), store.artifacts_root, query_log=[])
    store.add_run(run)

    # outputs inside the target's bounds
    lo, hi = target.bounds
    x_adv = np.load(f"{run.artifacts}/adversarial.npz")["x_adv"]
    assert x_adv.shape == (2, *target.input_shape)
    assert np.isfinite(x_adv).all() and x_adv.min() >= lo and x_adv.max() <= hi

    # results stored, and read back unchanged
    assert store.get_run(run.run_id).to_dict() == run.to_dict()
    assert run.family == cls.family and run.framework == cls.framework

    # queries counted, per sample, for every kind of run
    for s in run.samples:
        assert s.forward_queries >= 1  # at least the first judgement
        if cls.family == "evasion":
            assert s.forward_queries >= 2 and np.isfinite([s.linf, s.l2]).all()
    if cls.needs_gradients() and target.open_box and cls.name not in ("art.universal_perturbation",):
        assert all(s.gradient_queries >= 1 for s in run.samples)
    assert run.queries > run.n
    if cls.family == "extraction":
        assert 0.0 <= run.metrics["fidelity"] <= 1.0
        assert run.metrics["unattributed_forward_queries"] >= 1  # the thief's queries
    if cls.family == "inference":
        assert run.metrics

    # the same seed, the same result: every random source the attack draws from is seeded
    again = execute_run(target, cls(sample_index="0:2", **budget(cls)), store.artifacts_root / "again")
    assert np.array_equal(np.load(f"{again.artifacts}/adversarial.npz")["x_adv"], x_adv), f"{name} is not seeded"
    assert [_stable(s) for s in again.samples] == [_stable(s) for s in run.samples]

    # the rows a report prints
    doc = run_document(run)
    assert [s["index"] for s in doc["samples"]] == [0, 1]
    for key in ("initial_label", "final_label", "success", "forward_queries", "gradient_queries"):
        assert key in doc["samples"][0]
    console = Console(record=True, width=200)
    print_run(console, run)
    text = console.export_text()
    assert run.run_id in text and f"Success {run.successes}/2" in text


@pytest.mark.parametrize("name", sorted(n for n, c in CATALOG.items() if c.needs_gradients()))
def test_open_box_attacks_refuse_a_closed_box_target_in_one_line(name, digits_blackbox):
    with pytest.raises(Incompatible) as refusal:
        CATALOG[name].check_target(digits_blackbox)
    assert "\n" not in str(refusal.value) and "digits_blackbox" in str(refusal.value)
