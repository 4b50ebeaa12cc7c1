"""feint's native attacks beside ART's on a small model: the same samples, the same
parameters, and, on the samples both turn, mean distances within a stated tolerance.

The model is a small network on scikit-learn's 8x8 digits, so that ART (one sample at a
time for JSMA and Wasserstein) runs in seconds. Distances are measured alike for both
tools, from the adversarial arrays."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from feint import execute_run, get_attack
from feint.targets.base import Target

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = list(range(6))


def _bench():
    """The side-by-side benchmark's shared pieces: ART's estimator, ART's JSMA targets and
    the exact Wasserstein distance."""
    spec = importlib.util.spec_from_file_location("compare_art", ROOT / "benchmarks" / "compare_art.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["compare_art"] = bench  # dataclasses look their module up while the class is made
    spec.loader.exec_module(bench)
    return bench


class _Digits8(Target):
    """A one-hidden-layer network on 8x8 digits (1,797 images, 16 grey levels), open-box."""

    target_name = "digits8_cnn"
    data_type = "image"
    input_shape = (1, 8, 8)
    output_classes = tuple(str(i) for i in range(10))

    def load(self):
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)[:, None]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = torch.nn.Sequential(
                torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10)
            )
            opt = torch.optim.Adam(net.parameters(), 1e-2)
            xt, yt = torch.as_tensor(x[:1200]), torch.as_tensor(d.target[:1200])
            for _ in range(150):
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xt), yt).backward()
                opt.step()
        for p in net.parameters():
            p.requires_grad_(False)
        self.net, self.X, self.y = net.eval(), x[1200:], d.target[1200:]

    def torch_module(self):
        return self.ensure_loaded().net


@pytest.fixture(scope="module")
def small():
    return _Digits8().ensure_loaded()


@pytest.fixture(scope="module")
def bench():
    return _bench()


def _feint(target, name, params, tmp_path):
    attack = get_attack(name)(sample_index=",".join(map(str, SAMPLES)), **params)
    run = execute_run(target, attack, artifacts_root=tmp_path)
    return np.load(tmp_path / run.run_id / "adversarial.npz")["x_adv"]


def _art(bench, target, module, name, params, x, y=None):
    est, _ = bench.art_estimator(target, module)
    attack = bench.art_attack(name, est, params, batch=len(x))
    torch.manual_seed(0)
    np.random.seed(0)
    return attack.generate(x=x, y=None if y is None else np.eye(10, dtype=np.float32)[y])


def _common(target, x, labels, a, b):
    """Samples both adversarials turn (judged by the target), and the L2 and L0 distances."""
    turned = [target.predict(z).argmax(1) != labels for z in (a, b)]

    def dist(z):
        d = (z - x).reshape(len(x), -1)
        return np.linalg.norm(d, axis=1), (np.abs(d) > 1e-6).sum(1)

    return turned, turned[0] & turned[1], dist(a), dist(b)


def _setup(small):
    x = small.get_samples(SAMPLES)
    return x, small.predict(x).argmax(1)


def test_pgd_matches_art_on_the_same_samples(small, bench, tmp_path):
    params = {"norm": "inf", "eps": 0.2, "eps_step": 0.05, "max_iter": 10, "num_random_init": 0}
    x, labels = _setup(small)
    ours = _feint(small, "pgd", params, tmp_path)
    art = _art(bench, small, small.net, "pgd", params, x)
    (ok_f, ok_a), both, (l2_f, _), (l2_a, _) = _common(small, x, labels, ours, art)
    assert ok_f.sum() == ok_a.sum() and both.sum() >= 3
    # the same steps from the same start: the same points up to float rounding
    assert abs(l2_f[both].mean() / l2_a[both].mean() - 1) <= 1e-3


def test_jsma_aimed_at_arts_classes_gives_arts_adversarials(small, bench, tmp_path):
    """On probabilities (ART's saliency on a model ending in softmax) and on logits, feint
    aimed at ART's own random classes changes the same pixels by the same amounts; feint's
    default, which stops at any other class, changes no more pixels than ART on average."""
    x, labels = _setup(small)
    y = bench.art_targets(labels, 10)
    aimed = {"theta": 0.1, "gamma": 1.0, "targeted": True, "target_labels": ",".join(map(str, y))}
    softmax = torch.nn.Sequential(small.net, torch.nn.Softmax(dim=1))
    for saliency_on, module in (("probabilities", softmax), ("logits", small.net)):
        ours = _feint(small, "jsma", {**aimed, "saliency_on": saliency_on}, tmp_path)
        art = _art(bench, small, module, "jsma", {"theta": 0.1, "gamma": 1.0}, x, y)
        (ok_f, ok_a), both, (l2_f, l0_f), (l2_a, l0_a) = _common(small, x, labels, ours, art)
        assert (ok_f == ok_a).all() and both.sum() >= 3
        assert (l0_f[both] == l0_a[both]).all()  # tolerance: none
        assert abs(l2_f[both].mean() / l2_a[both].mean() - 1) <= 1e-5
    default = _feint(small, "jsma", {"theta": 0.1, "gamma": 1.0}, tmp_path)
    art = _art(bench, small, softmax, "jsma", {"theta": 0.1, "gamma": 1.0}, x, y)
    (ok_f, ok_a), both, (_, l0_f), (_, l0_a) = _common(small, x, labels, default, art)
    assert ok_f.sum() >= ok_a.sum() and l0_f[both].mean() <= l0_a[both].mean()


def test_wasserstein_turns_as_many_with_no_larger_transport(small, bench, tmp_path):
    """Success at least ART's; mean exact Wasserstein distance and L2 on the samples both
    turn within 5 percent of ART's (at a regularization where ART's solvers do not overflow)."""
    params = {
        "regularization": 100.0,
        "p": 2,
        "kernel_size": 3,
        "eps_step": 0.1,
        "eps": 0.1,
        "eps_iter": 3,
        "eps_factor": 1.5,
        "max_iter": 30,
        "conjugate_sinkhorn_max_iter": 100,
        "projected_sinkhorn_max_iter": 100,
    }
    x, labels = _setup(small)
    ours = _feint(small, "wasserstein", params, tmp_path)
    art = _art(bench, small, small.net, "wasserstein", params, x)
    (ok_f, ok_a), both, (l2_f, _), (l2_a, _) = _common(small, x, labels, ours, art)
    assert ok_f.sum() >= ok_a.sum() and both.sum() >= 3
    w_f = np.mean([bench.transport_cost(x[i], ours[i]) for i in np.flatnonzero(both)])
    w_a = np.mean([bench.transport_cost(x[i], art[i]) for i in np.flatnonzero(both)])
    assert w_f <= 1.05 * w_a
    assert l2_f[both].mean() <= 1.05 * l2_a[both].mean()


def test_hop_skip_jump_lands_as_close_as_art(small, bench, tmp_path):
    """A random walk from random starts: feint's mean L2 on the samples both turn at most
    25 percent above ART's (the two draw different random numbers)."""
    params = {"norm": 2, "max_iter": 5, "max_eval": 300, "init_eval": 30, "init_size": 50}
    x, labels = _setup(small)
    ours = _feint(small, "hop_skip_jump", params, tmp_path)
    art = _art(bench, small, small.net, "hop_skip_jump", params, x)
    (ok_f, ok_a), both, (l2_f, _), (l2_a, _) = _common(small, x, labels, ours, art)
    assert ok_f.sum() >= ok_a.sum() - 1 and both.sum() >= 3
    assert l2_f[both].mean() <= 1.25 * l2_a[both].mean()
