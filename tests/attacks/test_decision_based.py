"""The native decision-based attacks beyond HopSkipJump (GeoDA, SurFree and CGBA for L2, RayS for Linf):
labels only, batched (one model call for every sample's probes), in bounds, seeded, and
closer with more queries. Small budgets keep each test fast."""

import numpy as np
import pytest
import torch

from feint.attacks.catalog import get_attack
from feint.attacks.native.geoda import low_frequency_basis
from feint.engine.run import execute_run
from feint.store import trajectories
from feint.targets.base import Target

NORM = {"geoda": "l2", "surfree": "l2", "cgba": "l2", "rays": "linf"}


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
        n = int(samples.split(":")[1])
        # probes of several samples together: GeoDA's and CGBA's many, SurFree's two a sample, RayS' one or more
        assert max(e["rows"] for e in log) >= {"geoda": 7, "cgba": 7, "surfree": 2 * n, "rays": n}[name]
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


class _Plane(Target):
    """A linear model on 10 features: class 1 where ``w . x > b``; the distance of a sample
    to its boundary is known exactly."""

    target_name = "plane"
    data_type = "tabular"
    input_shape = (10,)
    output_classes = ("below", "above")
    w = np.linspace(1.0, -0.5, 10)
    b = 1.2

    def load(self):
        self.X = np.random.default_rng(0).uniform(0.2, 0.45, (4, 10)).astype(np.float32)

    def predict(self, x):
        p = (np.asarray(x, np.float64).reshape(len(x), -1) @ self.w > self.b).astype(np.float64)
        return np.stack([1 - p, p], axis=1)


def test_surfree_walks_the_circle_to_the_closest_point_of_a_flat_boundary(tmp_path):
    """On a flat boundary the closest point of each circle is where it leaves the adversarial
    side, so the distance falls to the sample's distance to the hyperplane."""
    target = _Plane().ensure_loaded()
    exact = (target.b - target.X.astype(np.float64) @ target.w) / np.linalg.norm(target.w)
    assert (exact > 0).all()  # every sample starts below the plane
    short = execute_run(target, get_attack("surfree")(sample_index="0:4", max_queries=60), tmp_path)
    run = execute_run(target, get_attack("surfree")(sample_index="0:4", max_queries=600), tmp_path)
    got = np.array([s.l2 for s in run.samples])
    assert run.successes == 4 and all(s.forward_queries <= 600 for s in run.samples)
    assert (got >= exact - 1e-4).all() and (got <= 1.05 * exact).all()
    assert np.median([s.l2 for s in short.samples]) > np.median(got)


def test_surfree_directions_are_orthogonal_to_the_way_to_the_boundary_and_to_the_last_ones(digits_blackbox):
    from feint.attacks.base import Batch
    from feint.attacks.model import CountedModel
    from feint.attacks.native.surfree import SurFree, _SurFree

    x = torch.as_tensor(digits_blackbox.get_samples(np.arange(3)))
    labels = torch.as_tensor(digits_blackbox.predict(x.numpy()).argmax(1))
    batch = Batch(x=x, labels=labels, targets=None, generator=torch.Generator().manual_seed(0))
    model = CountedModel(digits_blackbox, np.zeros(3, np.int64), np.zeros(3, np.int64))
    state = _SurFree(model, batch, SurFree(memory=5).options.as_dict())
    state.cur = state.flat0 + 0.1 * torch.randn(state.flat0.shape, generator=torch.Generator().manual_seed(1))
    idx = torch.arange(3)
    u = state.cur - state.flat0
    u = u / u.norm(dim=1, keepdim=True)
    v = [state.direction(idx) for _ in range(4)]
    for i, a in enumerate(v):
        assert torch.allclose(a.norm(dim=1), torch.ones(3), atol=1e-5)
        assert (a * u).sum(dim=1).abs().max() < 1e-5
        for b in v[:i]:
            assert (a * b).sum(dim=1).abs().max() < 1e-3
    # drawn from the 4 lowest frequencies of each side (16 of 784): nearly all the energy is
    # there, though made orthogonal to u, which has every frequency
    spectrum = state.dct_h @ v[0].reshape(3, 28, 28) @ state.dct_w.T
    assert (spectrum[:, :4, :4] ** 2).sum(dim=(1, 2)).min() > 0.9


def test_rays_tries_several_flips_per_call_and_keeps_its_budget(digits_blackbox):
    """With ``batch`` flips a call the model calls fall; every flip sent is counted, and a
    sample never costs more than max_queries."""
    calls, medians = {}, {}
    for width in (1, 16):
        log: list[dict] = []
        run = execute_run(
            digits_blackbox,
            get_attack("rays")(sample_index="0:4", max_queries=1500, batch=width, logger="calls"),
            query_log=log,
        )
        calls[width] = len(log)
        medians[width] = np.median([s.linf for s in run.samples])
        assert run.successes == 4 and all(s.forward_queries <= 1500 for s in run.samples)
        assert sum(e["rows"] for e in log) == sum(s.forward_queries for s in run.samples)
    assert calls[16] < 0.8 * calls[1]
    assert medians[16] < 1.25 * medians[1]


def test_cgba_searches_the_half_circle_to_the_closest_point_of_a_flat_boundary(tmp_path):
    """On a flat boundary the half circle along the estimated normal leaves the adversarial
    side at the closest point the plane holds, so a few iterations reach the hyperplane's
    distance, and no point the attack keeps is farther than the last."""
    target = _Plane().ensure_loaded()
    exact = (target.b - target.X.astype(np.float64) @ target.w) / np.linalg.norm(target.w)
    short = execute_run(target, get_attack("cgba")(sample_index="0:4", max_queries=40), tmp_path)
    run = execute_run(target, get_attack("cgba")(sample_index="0:4", max_queries=400), tmp_path)
    got = np.array([s.l2 for s in run.samples])
    assert run.successes == 4 and all(s.forward_queries <= 400 for s in run.samples)
    assert (got >= exact - 1e-4).all() and (got <= 1.02 * exact).all()
    assert np.median([s.l2 for s in short.samples]) > np.median(got)


def test_cgba_probes_are_orthogonal_to_the_way_to_the_boundary(digits_blackbox):
    """A probe's component along u (from the sample to its boundary point) would decide its
    answer near the closest point and tell nothing of the rest of the normal: probes leave
    it out, and so does the normal the half circle follows."""
    from feint.attacks.base import Batch
    from feint.attacks.model import CountedModel
    from feint.attacks.native.cgba import _CGBA, CGBA

    x = torch.as_tensor(digits_blackbox.get_samples(np.arange(3)))
    labels = torch.as_tensor(digits_blackbox.predict(x.numpy()).argmax(1))
    batch = Batch(x=x, labels=labels, targets=None, generator=torch.Generator().manual_seed(0))
    model = CountedModel(digits_blackbox, np.zeros(3, np.int64), np.zeros(3, np.int64))
    state = _CGBA(model, batch, CGBA().options.as_dict())
    state.cur = torch.full_like(state.flat0, 0.5)  # inside the bounds: no probe is clipped
    state.best_dist = torch.ones(3, dtype=torch.float64)
    idx = torch.arange(3)
    u = state.way(idx)
    # the answers of a flat boundary through the boundary points, its normal w
    w = torch.randn(state.flat0.shape, generator=torch.Generator().manual_seed(2)) + 3 * u
    probes = []

    def plane(flat, rows):
        step = flat - state.cur[rows]
        probes.append((step, rows))
        return (step * w[rows]).sum(dim=1) > 0

    state.adversarial = plane
    v = state.normal(idx, torch.tensor([400, 400, 400]))
    ((step, rows),) = probes
    assert len(rows) == 1200 and torch.allclose(step.norm(dim=1), torch.full((1200,), 0.05), atol=1e-4)
    assert (step * u[rows]).sum(dim=1).abs().max() < 1e-5
    w_perp = w - (w * u).sum(dim=1, keepdim=True) * u
    assert (torch.nn.functional.cosine_similarity(v, w_perp) > 0.3).all()
    assert torch.allclose(v.norm(dim=1), torch.ones(3), atol=1e-5) and (v * u).sum(dim=1).abs().max() < 1e-5
