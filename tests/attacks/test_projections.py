"""Properties of the projections and solvers the attacks rely on."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from feint.attacks.native.pgd import flat_norm, lp_project
from feint.attacks.native.wasserstein import projected_sinkhorn, window_cost, wright_omega

arrays = st.lists(st.floats(-3, 3, allow_nan=False), min_size=12, max_size=12)


@given(arrays, arrays, st.floats(1e-3, 2.0), st.sampled_from(["inf", "2"]))
def test_lp_projection_lands_in_ball_and_is_idempotent(a, b, eps, norm):
    x = torch.tensor(a, dtype=torch.float64).view(2, 6)
    y = torch.tensor(b, dtype=torch.float64).view(2, 6)
    p = lp_project(x, y, eps, norm)
    assert (flat_norm(p - x, norm) <= eps * (1 + 1e-9) + 1e-12).all()
    assert torch.allclose(lp_project(x, p, eps, norm), p)
    inside = flat_norm(y - x, norm) <= eps
    assert torch.allclose(p[inside], y[inside])  # points inside the ball do not move


@given(st.floats(-700, 1e6))
def test_wright_omega_solves_u_plus_log_u(y):
    u = wright_omega(torch.tensor([y], dtype=torch.float64))
    assert u.item() > 0 and math.isfinite(u.item())
    if y > -600:
        assert abs(u.item() + math.log(u.item()) - y) <= 1e-9 * max(1.0, abs(y))


def test_window_cost_is_the_offsets_norm_or_its_euclidean_length_to_the_power_p():
    c = window_cost(5, 2.0).view(5, 5)  # ART's: the p-norm of the offset
    # torch's sqrt is within an ulp of the correctly rounded one, differently on different CPUs
    assert c[2, 2] == 0 and c[2, 3] == 1
    assert c[1, 1].item() == pytest.approx(math.sqrt(2), rel=1e-15)
    assert c[0, 1].item() == pytest.approx(math.sqrt(5), rel=1e-15)
    c = window_cost(5, 1.0).view(5, 5)
    assert c[1, 1] == 2 and c[0, 1] == 3
    c = window_cost(3, 2.0, "power").view(3, 3)
    assert c[1, 1] == 0 and c[0, 1] == 1 and c[0, 0] == 2


@pytest.mark.parametrize("p, ground", [(2.0, "power"), (1.0, "norm")])
def test_a_cost_summed_over_the_axes_takes_one_pass_per_axis(p, ground):
    """Where the cost is one cost per axis summed, the per-axis passes give the grouped
    convolution's sums."""
    from feint.attacks.native.wasserstein import _Window

    win = _Window(9, 7, 5, p, ground)
    assert win.separable
    e = torch.rand(20, 63, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.rand(20, dtype=torch.float64) * 2
    passes = win.sums(e, t, moments=False)
    win.separable = False
    assert torch.allclose(passes, win.sums(e, t, moments=False), rtol=1e-12, atol=0)
    assert not _Window(9, 7, 5, 2.0, "norm").separable


@settings(max_examples=5, deadline=None)
@given(st.integers(0, 1000), st.floats(0.05, 1.0))
def test_projected_sinkhorn_stays_in_ball_without_nan_at_high_regularization(seed, eps):
    g = np.random.default_rng(seed)
    x = torch.tensor(g.random((2, 1, 8, 8)) * (g.random((2, 1, 8, 8)) > 0.6), dtype=torch.float64)
    x = x + 1e-3
    mass = x.reshape(2, -1).sum(1).view(-1, 1, 1, 1)
    w = (x + torch.tensor(g.normal(0, 0.3, x.shape))).clamp_min(0)
    z, cost, _ = projected_sinkhorn(
        x / mass, w / mass, torch.full((2,), eps, dtype=torch.float64), 3000.0, 5, 2.0, 3000
    )
    assert torch.isfinite(z).all() and (z >= 0).all()
    assert (cost <= eps * 1.001).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 300), st.booleans())
def test_jsma_pair_search_is_exact(seed, n, increase):
    """The pruned pair search finds a pair as salient as scoring all n*n pairs does."""
    from feint.attacks.native.jsma import best_pairs

    g = torch.Generator().manual_seed(seed)
    alpha, beta = torch.randn(4, n, generator=g), torch.randn(4, n, generator=g)
    allowed = torch.rand(4, n, generator=g) > 0.3
    pq = best_pairs(alpha, beta, allowed, increase)
    s = 1.0 if increase else -1.0
    a, b = alpha * s, beta * s
    A, B = a[:, :, None] + a[:, None, :], b[:, :, None] + b[:, None, :]
    ok = (A > 0) & (B < 0) & allowed[:, :, None] & allowed[:, None, :] & ~torch.eye(n, dtype=torch.bool)
    brute = torch.where(ok, -A * B, torch.zeros_like(A)).flatten(1).amax(1)
    rows = torch.arange(4)
    p, q = pq[:, 0], pq[:, 1]
    got = torch.where(ok[rows, p, q], -A[rows, p, q] * B[rows, p, q], torch.zeros(4))
    assert torch.allclose(got, brute)
    assert (ok.flatten(1).any(1) <= (p != q)).all()
