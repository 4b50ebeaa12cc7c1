"""APGD, FAB, Square and FMN: each turns digits within its budget, stays in bounds, counts
every query, and gives the same result for the same seed. Small schedules keep them fast."""

import numpy as np
import pytest
import torch

from feint.attacks.catalog import get_attack
from feint.attacks.native.apgd import checkpoints
from feint.attacks.native.lp import dlr_loss, norm_of, project_ball
from feint.engine.run import execute_run
from feint.report.robustness import accuracy_at, robustness_curve

SAMPLES = "0:12"


def _run(target, name, root=None, **options):
    return execute_run(target, get_attack(name)(sample_index=SAMPLES, **options), root)


def test_checkpoints_follow_the_schedule():
    # p = 0, 0.22, 0.41, 0.57, 0.70, 0.80, 0.87, 0.93, 0.99 of 100 steps
    assert checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]
    assert checkpoints(1) == [1]


def test_l1_projection_is_the_nearest_point_of_the_ball():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((5, 30), generator=gen)
    y = x + torch.randn((5, 30), generator=gen)
    p = project_ball(x, y, 2.0, "1")
    assert (norm_of(p - x, "1") <= 2.0).all()
    # Nearest: no random point of the ball is closer to y.
    for _ in range(50):
        d = torch.randn((5, 30), generator=gen)
        d = d / norm_of(d, "1").view(-1, 1) * 2.0 * torch.rand((5, 1), generator=gen)
        assert ((x + d - y).norm(dim=1) >= (p - y).norm(dim=1) - 1e-5).all()


def test_linf_projection_reaches_the_face_of_the_ball_in_float64():
    # A model that rounds its inputs (digits_keras to 8 bits) sees a coordinate on the face
    # differently from one a rounding step inside; the projection must give the farthest
    # float32 value within eps, measured in float64, on either side.
    gen = torch.Generator().manual_seed(3)
    x = torch.round(torch.rand((6, 50), generator=gen) * 255) / 255
    far = x + torch.sign(torch.randn((6, 50), generator=gen))
    for eps in (0.1, 0.3, 2 / 255, 8 / 255, torch.tensor([0.1, 0.2, 0.05, 0.3, 0.15, 2 / 255])):
        p = project_ball(x, far, eps, "inf")
        e64 = torch.as_tensor(eps, dtype=torch.float64).expand(6).reshape(-1, 1)
        d64 = (p.double() - x.double()).abs()
        assert (d64 <= e64).all()
        beyond = (torch.nextafter(p, far).double() - x.double()).abs()  # one representable step out
        assert ((beyond > e64) | (beyond == d64)).all()  # beyond eps, or a step float64 cannot see
    inside = x + 0.01
    assert torch.equal(project_ball(x, inside, 0.1, "inf"), inside)


def test_square_linf_never_spends_a_query_on_the_current_point(digits_keras):
    # On one channel, a drawn sign the window already holds would leave the point as it is;
    # the proposal draws again instead, so every query differs from the point last kept.
    from feint.attacks.model import CountedModel

    seen = []
    forward = CountedModel._forward

    def spy(self, x, rows):
        out = forward(self, x, rows)
        if len(x):  # a row the query cap refuses is not sent
            seen.append((x.detach().clone(), out.detach().clone()))
        return out

    CountedModel._forward = spy
    try:
        run = execute_run(digits_keras, get_attack("square")(sample_index="7", eps=0.02, max_queries=200), None)
    finally:
        CountedModel._forward = forward
    assert not run.samples[0].success and len(seen) >= 190  # the sample stood: every step was tried
    label = int(seen[0][1].argmax())

    def margin(z):
        return float(z[0, label] - torch.cat([z[0, :label], z[0, label + 1 :]]).max())

    kept, kept_margin = seen[0][0], margin(seen[0][1])
    for x, z in seen[1:]:
        assert not torch.equal(x, kept)
        if margin(z) < kept_margin:
            kept, kept_margin = x, margin(z)


def test_dlr_is_invariant_to_the_scale_of_the_logits():
    z = torch.randn(4, 10, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 3, 5, 9])
    assert torch.allclose(dlr_loss(z, y), dlr_loss(3 * z + 7, y), atol=1e-5)
    t = torch.tensor([1, 1, 2, 2])
    assert torch.allclose(dlr_loss(z, y, t), dlr_loss(3 * z + 7, y, t), atol=1e-5)


@pytest.mark.parametrize(
    "name, options, norm, eps",
    [
        ("apgd", dict(eps=0.3, max_iter=20), "linf", 0.3),
        ("apgd", dict(eps=0.3, max_iter=10, loss="dlr", top_k_targets=2), "linf", 0.3),
        ("apgd", dict(eps=3.0, norm="2", max_iter=20), "l2", 3.0),
        ("fab", dict(eps=0.3, max_iter=20, top_k_targets=2), "linf", 0.3),
        ("fab", dict(eps=3.0, norm="2", max_iter=20), "l2", 3.0),
        ("square", dict(eps=0.3, max_queries=300), "linf", 0.3),
        ("square", dict(eps=5.0, norm="2", max_queries=300), "l2", 5.0),
    ],
)
def test_turns_digits_within_the_budget(digits_keras, tmp_path, name, options, norm, eps):
    run = _run(digits_keras, name, tmp_path, **options)
    assert run.successes >= 9, (name, options, run.successes)
    for s in run.samples:
        assert getattr(s, norm) <= eps
        assert s.success == (s.final_label != s.initial_label)
    x, x_adv = _arrays(run)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    if get_attack(name).access == "closed-box":
        assert run.gradient_queries == 0
    else:
        assert all(s.gradient_queries >= 1 for s in run.samples)


def test_queries_are_counted_per_sample(digits_keras):
    # APGD stops querying a sample once it turns: a sample that turns early costs less.
    run = _run(digits_keras, "apgd", eps=0.12, max_iter=30)
    fwd = [s.forward_queries for s in run.samples]
    grads = [s.gradient_queries for s in run.samples]
    # Per step one forward and one gradient each, plus the runner's two judgements.
    assert all(f == g + 2 for f, g in zip(fwd, grads))
    assert max(grads) <= 31 and min(grads) < max(grads)


def test_fab_counts_the_rows_the_model_computes_one_pass_per_step(digits_keras):
    # The pass that judges a new point also linearises there: a step costs one forward
    # and one gradient row per sample, plus one of each where it turned adversarial.
    from tests.attacks.test_layout import queried_modules

    rows = [0, 0]  # forward rows, rows with an input gradient

    def hook(module, args):
        rows[0] += len(args[0])
        rows[1] += len(args[0]) if args[0].requires_grad else 0

    handles = [m.register_forward_pre_hook(hook) for m in queried_modules(digits_keras)]
    try:
        run = _run(digits_keras, "fab", eps=0.3, max_iter=20)
    finally:
        for h in handles:
            h.remove()
    fwd = sum(s.forward_queries for s in run.samples)
    grads = sum(s.gradient_queries for s in run.samples)
    assert rows == [fwd, grads]  # the runner's two judgements included
    assert run.successes >= 9
    for s in run.samples:
        # The first linearisation, 19 steps judged and linearised, the last judged alone;
        # at most one more of each for each of the 19 that turned adversarial.
        steps = s.forward_queries - 2
        assert 21 <= steps <= 21 + 19 and 20 <= s.gradient_queries <= min(steps - 1, 20 + 19)


def test_same_seed_same_result(digits_keras, tmp_path):
    a = _arrays(_run(digits_keras, "square", tmp_path, eps=0.2, max_queries=100))[1]
    b = _arrays(_run(digits_keras, "square", tmp_path, eps=0.2, max_queries=100))[1]
    assert np.array_equal(a, b)


@pytest.mark.parametrize("norm, column", [("inf", "linf"), ("2", "l2"), ("1", "l1")])
def test_fmn_finds_small_perturbations_and_draws_the_curve(digits_keras, norm, column):
    run = _run(digits_keras, "fmn", norm=norm, steps=40)
    assert run.successes >= 10
    dist = [s.measures["l1"] if column == "l1" else getattr(s, column) for s in run.samples if s.success]
    curve = robustness_curve(run)
    accs = [a for _, a in curve["curve"]]
    wrong = curve["misclassified"]
    turned_right = [s for s in run.samples if s.success and s.initial_label == s.true_label]
    # From the clean accuracy at 0 down, one step per distance found, to what was never turned.
    assert accs == sorted(accs, reverse=True)
    assert accs[0] == pytest.approx((run.n - wrong) / run.n)
    assert accs[-1] == pytest.approx((run.n - wrong - len(turned_right)) / run.n)
    found = sorted(s.measures["l1"] if column == "l1" else getattr(s, column) for s in turned_right)
    assert [e for e, _ in curve["curve"][1:]] == pytest.approx(found)
    median = float(np.median(dist))
    assert accuracy_at(curve, median) <= 0.6


def test_fmn_linf_distance_is_below_what_pgd_needs(digits_keras):
    # A sample FMN turns at distance d is a sample a budget just above d turns.
    fmn = _run(digits_keras, "fmn", norm="inf", steps=60)
    turned = [s for s in fmn.samples if s.success]
    eps = float(np.median([s.linf for s in turned])) * 1.05
    apgd = _run(digits_keras, "apgd", eps=eps, max_iter=50)
    within = sum(1 for s in turned if s.linf <= eps)
    assert apgd.successes >= within - 2  # APGD at that budget finds about as many


def _arrays(run):
    with np.load(f"{run.artifacts}/adversarial.npz") as f:
        return f["x"], f["x_adv"]
