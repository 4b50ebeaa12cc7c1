"""Expectation over transformation in native PGD: ``pgd --set eot=rotate:10,samples=8``
follows the mean gradient over random rotations, counts every draw as a query, and makes
adversarials that survive the transformation more often than plain PGD's do."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from feint.attacks.base import Batch
from feint.attacks.catalog import get_attack
from feint.attacks.model import CountedModel
from feint.attacks.transforms.eot import Expectation
from feint.engine.run import execute_run
from feint.errors import BadValue, Incompatible

PGD = dict(eps=0.15, eps_step=0.02, max_iter=3)


def _survival(target, x_adv: np.ndarray, labels: np.ndarray, text: str, indices) -> np.ndarray:
    """The share of draws of ``text`` under which each of ``x_adv`` is not labelled ``labels``."""
    n = len(x_adv)
    model = CountedModel(target, np.zeros(n, np.int64), np.zeros(n, np.int64))
    batch = Batch(torch.as_tensor(x_adv), torch.as_tensor(labels), None, torch.Generator(), 99, np.asarray(indices))
    return Expectation.of(text, model, batch).survival(torch.as_tensor(x_adv)).numpy()


def test_eot_counts_every_draw_as_a_query(digits_keras):
    run = execute_run(digits_keras, get_attack("pgd")(sample_index="0:4", eot="rotate:25,samples=6", **PGD))
    for s in run.samples:  # 6 draws per step, 6 more for the survival, and the runner's two predictions
        assert (s.forward_queries, s.gradient_queries) == (2 + 3 * 6 + 6, 3 * 6)
        assert s.measures["eot_survival"] in {k / 6 for k in range(7)}
    plain = execute_run(digits_keras, get_attack("pgd")(sample_index="0:4", **PGD))
    assert all("eot_survival" not in s.measures for s in plain.samples)


def test_eot_adversarials_survive_the_transformation_more_often(digits_keras, tmp_path):
    """Stopped as soon as they turn, plain PGD's adversarials sit on the boundary and noise
    turns many back; EOT's, stopped once most draws turn, survive fresh draws more often."""
    common = dict(sample_index="0:16", eps=0.2, eps_step=0.02, max_iter=20, early_stop=True)
    plain = execute_run(digits_keras, get_attack("pgd")(**common), tmp_path / "a")
    robust = execute_run(digits_keras, get_attack("pgd")(eot="gaussian_noise:0.1,samples=6", **common), tmp_path / "b")
    labels = np.array([int(s.initial_label) for s in plain.samples])

    def judged(run) -> float:
        with np.load(f"{run.artifacts}/adversarial.npz") as f:
            adv, x = f["x_adv"], f["x"]
        assert float(np.abs(adv - x).max()) <= 0.2 + 1e-6  # inside the budget
        return float(_survival(digits_keras, adv, labels, "gaussian_noise:0.1,samples=32", range(16)).mean())

    assert judged(robust) > judged(plain) + 0.1


def test_eot_is_checked_when_set_and_refused_on_tabular_targets():
    cls = get_attack("pgd")
    assert cls(eot="jpeg:70 + rotate:5, samples=3").options["eot"] == "jpeg:70+rotate:5,samples=3"
    assert cls(eot="rotate:10").options["eot"] == "rotate:10,samples=8"
    with pytest.raises(BadValue, match="eot"):
        cls(eot="rotate:10,samples=0")
    with pytest.raises(BadValue, match="eot"):
        cls(eot="twirl:3")
    from feint.targets.base import Target

    class Rows(Target):
        target_name = "rows"
        data_type = "tabular"
        input_shape = (3,)
        output_classes = ("a", "b")

        def __init__(self):
            super().__init__()
            self.X = np.random.default_rng(0).random((4, 3), dtype=np.float32)
            self.net = torch.nn.Linear(3, 2)

        def torch_module(self):
            return self.net

    with pytest.raises(Incompatible, match=r"eot transforms images and target rows has tabular samples shaped \(3,\)"):
        execute_run(Rows(), cls(sample_index="0", eot="rotate:10", max_iter=1))
