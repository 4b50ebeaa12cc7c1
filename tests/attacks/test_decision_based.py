"""The native decision-based attacks beyond HopSkipJump (GeoDA for L2, RayS for Linf):
labels only, batched (one model call for every sample's probes), in bounds, seeded, and
closer with more queries. Small budgets keep each test fast."""

import numpy as np
import pytest
import torch

from feint.attacks.catalog import get_attack
from feint.attacks.native.geoda import low_frequency_basis
from feint.engine.run import execute_run
from feint.store import trajectories

NORM = {"geoda": "l2", "rays": "linf"}


@pytest.mark.parametrize("name", sorted(NORM))
def test_catalog_entry_is_decision_based_and_documented(name):
    cls = get_attack(name)
    assert cls.access == "closed-box" and cls.needs == "labels" and cls.summary() and cls.reference
    assert {"max_queries", "target_distance"} <= set(cls.params)
    for option, p in cls.params.items():
        assert p.doc and p.validate(p.default) == p.default, option


@pytest.mark.parametrize("name", sorted(NORM))
def test_turns_samples_in_bounds_and_gets_closer_with_more_queries(name, digits_blackbox, tmp_path):
    norm = NORM[name]
    short = execute_run(digits_blackbox, get_attack(name)(sample_index="0:6", max_queries=150), tmp_path)
    long = execute_run(digits_blackbox, get_attack(name)(sample_index="0:6", max_queries=1200), tmp_path)
    assert long.successes >= 5
    for run in (short, long):
        arrays = np.load(f"{run.artifacts}/adversarial.npz")
        assert arrays["x_adv"].min() >= 0.0 and arrays["x_adv"].max() <= 1.0
        for s in run.samples:
            assert s.gradient_queries == 0 and s.forward_queries <= (150 if run is short else 1200)
            assert s.success == (s.final_label != s.initial_label)
    med_short, med_long = (np.median([getattr(s, norm) for s in r.samples]) for r in (short, long))
    assert med_long < med_short
    assert trajectories.query_curve(trajectories.load(long.artifacts))["norm"] == norm


@pytest.mark.parametrize("name", sorted(NORM))
def test_every_samples_probes_go_in_one_model_call(name, digits_blackbox):
    """The model calls do not grow with the samples: six samples cost the calls of two."""
    calls = {}
    for samples in ("0:2", "0:6"):
        log: list[dict] = []
        execute_run(
            digits_blackbox, get_attack(name)(sample_index=samples, max_queries=300, logger="calls"), query_log=log
        )
        calls[samples] = len(log)
        assert max(e["rows"] for e in log) > 6 or name == "rays"  # probes of several samples together
    assert calls["0:6"] <= 1.6 * calls["0:2"]


@pytest.mark.parametrize("name", sorted(NORM))
def test_same_seed_same_result(name, digits_blackbox, tmp_path):
    kw = dict(sample_index="0:3", max_queries=300)
    a = execute_run(digits_blackbox, get_attack(name)(seed=1, **kw), tmp_path / "a")
    b = execute_run(digits_blackbox, get_attack(name)(seed=1, **kw), tmp_path / "b")
    xa = np.load(f"{a.artifacts}/adversarial.npz")["x_adv"]
    xb = np.load(f"{b.artifacts}/adversarial.npz")["x_adv"]
    np.testing.assert_array_equal(xa, xb)
    assert [s.forward_queries for s in a.samples] == [s.forward_queries for s in b.samples]


@pytest.mark.parametrize("name", sorted(NORM))
def test_labels_only_on_an_open_box_model_and_a_colour_one(name, digits_keras, request):
    run = execute_run(digits_keras, get_attack(name)(sample_index="0:2", max_queries=300))
    assert run.successes >= 1 and all(s.gradient_queries == 0 for s in run.samples)
    photos = request.getfixturevalue("photos")
    run = execute_run(photos, get_attack(name)(sample_index="0:2", max_queries=300))
    assert run.successes >= 1 and all(s.forward_queries <= 300 for s in run.samples)


@pytest.fixture(scope="module")
def photos():
    from feint.targets import get_target

    return get_target("photos")


def test_geoda_reaches_a_target_class_or_returns_the_input(digits_blackbox):
    run = execute_run(
        digits_blackbox, get_attack("geoda")(sample_index="0:3", targeted=True, target_labels="3", max_queries=600)
    )
    for s in run.samples:
        assert s.target_label == "3" and s.success == (s.final_label == "3")
        if not s.success:
            assert s.l2 == 0.0
    assert run.successes >= 1


def test_geoda_start_from_samples_needs_no_random_start(digits_blackbox):
    """With start=samples a sample begins at the closest other sample of the batch that the
    model labels otherwise: no random input is queried, so it begins far closer."""
    noise = execute_run(digits_blackbox, get_attack("geoda")(sample_index="0:6", max_iter=0))
    near = execute_run(digits_blackbox, get_attack("geoda")(sample_index="0:6", max_iter=0, start="samples"))
    assert near.successes == 6
    assert np.median([s.l2 for s in near.samples]) < np.median([s.l2 for s in noise.samples])


def test_low_frequency_directions_are_smooth_images():
    bh, bw = low_frequency_basis((3, 32, 32), 0.25)
    assert bh.shape == (8, 32) and bw.shape == (8, 32)
    assert torch.allclose(bh @ bh.T, torch.eye(8), atol=1e-5)  # orthonormal rows
    assert low_frequency_basis((30,), 0.25) is None and low_frequency_basis((1, 8, 8), 1.0) is None
