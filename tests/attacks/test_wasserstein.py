"""The Wasserstein attack's solvers: the fast paths compute what the log-domain forms do."""

import math

import torch

from feint.attacks.native.wasserstein import _sinkhorn, _Window, conjugate_sinkhorn, projected_sinkhorn

D = torch.float64


def _images(seed: int, n: int, c: int = 1, h: int = 10, w: int = 10) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, h, w, generator=g, dtype=D) * (torch.rand(n, c, h, w, generator=g) > 0.5)
    return x / x.reshape(n, -1).sum(1).view(-1, 1, 1, 1)


def test_exponential_domain_sums_match_the_log_domain():
    g = torch.Generator().manual_seed(1)
    for p, k, planes in ((2.0, 5, 3), (2.0, 5, 40), (1.0, 3, 3), (2.0, 7, 20)):
        win = _Window(9, 11, k, p)
        v = torch.randn(planes, 99, generator=g, dtype=D) * 5
        t = torch.rand(planes, generator=g, dtype=D) * 3
        top = v.amax(1, keepdim=True)
        lse, m1, m2 = win.gibbs(win.neigh(v, -math.inf), t)
        s = win.sums(torch.exp(v - top), t, moments=True)
        assert torch.allclose(torch.log(s[:, 0]) + top, lse, rtol=0, atol=1e-12)
        assert torch.allclose(s[:, 1] / s[:, 0], m1, rtol=1e-12, atol=1e-12)
        assert torch.allclose(s[:, 2] / s[:, 0], m2, rtol=1e-12, atol=1e-12)
        plain = win.sums(torch.exp(v - top), t, moments=False)[:, 0]
        assert torch.allclose(torch.log(plain) + top, win.lse(v, t), rtol=0, atol=1e-12)


def test_potentials_grouped_by_cost_give_the_same_moments():
    win = _Window(8, 8, 5, 2.0)
    v = torch.randn(4, 64, generator=torch.Generator().manual_seed(2), dtype=D) * 300  # far outside exp's range
    t = torch.tensor([0.0, 1.0, 50.0, 400.0], dtype=D)
    full = win.gibbs(win.neigh(v, -math.inf), t)
    grouped, costs = win.by_cost(win.neigh(v, -math.inf))
    assert len(costs) == 6  # 0, 1, 2, 4, 5, 8
    for a, b in zip(full, win.gibbs(grouped, t, costs)):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-10)


def test_each_image_is_solved_as_if_alone():
    """Images converge and stop one by one: a result does not depend on the batch."""
    x = _images(3, 5)
    w = (x + 0.02 * torch.randn(x.shape, generator=torch.Generator().manual_seed(4), dtype=D)).clamp_min(0)
    eps = torch.tensor([0.05, 0.2, 0.4, 0.1, 0.3], dtype=D)
    z, cost, st = projected_sinkhorn(x, w, eps, 3000.0, 5, 2.0, 3000)
    for i in (0, 2, 4):
        zi, ci, si = projected_sinkhorn(x[i : i + 1], w[i : i + 1], eps[i : i + 1], 3000.0, 5, 2.0, 3000)
        assert torch.equal(zi[0], z[i]) and torch.equal(ci[0], cost[i]) and torch.equal(si["t"][0], st["t"][i])
    assert (cost <= eps * 1.001).all()
    # the transported mass stays the image's mass
    assert torch.allclose(z.reshape(5, -1).sum(1), torch.ones(5, dtype=D), atol=1e-3)


def test_log_domain_fallback_when_potentials_span_beyond_exp_range(monkeypatch):
    """Potentials a thousand apart would underflow the shifted exponentials: the solver
    falls back to log-domain sums there, and computes what the log domain alone does."""
    import feint.attacks.native.wasserstein as ws

    x = _images(5, 2, h=8, w=8) + 1e-4
    x = (x / x.reshape(2, -1).sum(1).view(-1, 1, 1, 1)).reshape(2, -1)
    w = x.clone()
    w[:, 0] += 0.5  # a spike: lam * w spans ~1500
    eps = torch.tensor([0.05, 0.3], dtype=D)
    win = _Window(8, 8, 5, 2.0)
    calls = {"gibbs": 0}
    gibbs = win.gibbs

    def counting(*a, **k):
        calls["gibbs"] += 1
        return gibbs(*a, **k)

    win.gibbs = counting
    z, cost, st = _sinkhorn(x, w, eps, 3000.0, win, 1, 700)
    assert calls["gibbs"] > 0
    assert torch.isfinite(z).all() and (z >= 0).all() and torch.isfinite(cost).all()
    monkeypatch.setattr(ws, "ROW_FLOOR", math.inf)  # every sum in the log domain
    monkeypatch.setattr(ws, "COL_SAFE", -math.inf)
    z_log, cost_log, st_log = _sinkhorn(x, w, eps, 3000.0, _Window(8, 8, 5, 2.0), 1, 700)
    assert torch.allclose(z, z_log, rtol=1e-6, atol=1e-9)
    assert torch.allclose(cost, cost_log, rtol=1e-6) and torch.allclose(st["t"], st_log["t"], rtol=1e-6)


def test_projection_with_channels_matches_per_channel_layout():
    x = _images(6, 2, c=3, h=6, w=6)
    w = (x + 0.01).clamp_min(0)
    eps = torch.tensor([0.1, 0.2], dtype=D)
    z, cost, st = projected_sinkhorn(x, w, eps, 3000.0, 3, 2.0, 3000)
    assert z.shape == x.shape and torch.isfinite(z).all()
    assert (cost <= eps * 1.001).all()
    z1, c1, _ = projected_sinkhorn(x[1:], w[1:], eps[1:], 3000.0, 3, 2.0, 3000)
    assert torch.equal(z1[0], z[1]) and torch.equal(c1[0], cost[1])


def test_conjugate_step_spends_its_budget():
    x = _images(7, 3)
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(8), dtype=D)
    eps = torch.full((3,), 0.1, dtype=D)
    z, st = conjugate_sinkhorn(x, grad, eps, 3000.0, 5, 2.0, 400)
    assert torch.isfinite(z).all() and (z >= 0).all()
    assert torch.allclose(z.reshape(3, -1).sum(1), torch.ones(3, dtype=D), atol=1e-6)
    # moving along the gradient: the step gains
    assert ((z - x) * grad).reshape(3, -1).sum(1).min() > 0
