"""Targets that answer labels only: a scikit-learn model with no predict_proba, a model a
YAML declares `outputs: labels`, a Python target class. Decision-based attacks run on
them; attacks that need scores are refused in one line; success and the run tables come
from the labels, and confidences are absent, never invented."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from feint.cli.app import main

CLASSES = ["malignant", "benign"]


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    """scikit-learn's breast-cancer data (it ships with the package), scaled to [0, 1],
    with a RidgeClassifier (predict only) and a logistic regression (predict_proba) saved
    with skops."""
    import skops.io as sio

    folder = tmp_path_factory.mktemp("cancer")
    data = load_breast_cancer()
    x = data.data.astype(np.float32)
    x = (x - x.min(0)) / (x.max(0) - x.min(0))
    y = data.target.astype(np.int64)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    train, test = order[:400], order[400:]
    ridge = make_pipeline(StandardScaler(), RidgeClassifier()).fit(x[train], y[train])
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x[train], y[train])
    assert not hasattr(ridge, "predict_proba")
    sio.dump(ridge, folder / "ridge.skops")
    sio.dump(logistic, folder / "logistic.skops")
    np.savez(folder / "samples.npz", X=x[test], y=y[test])
    return folder, ridge, x[test], y[test]


def _target(folder, name, model, **more):
    doc = {
        "name": name,
        "model": str(folder / model),
        "data_type": "tabular",
        "input_shape": [30],
        "classes": CLASSES,
        "samples": {"npz": str(folder / "samples.npz"), "x": "X", "y": "y"},
        **more,
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_model_with_only_predict_is_a_labels_only_target(cancer, capsys, fresh_home):
    folder, ridge, x, y = cancer
    spec = _target(folder, "ridge", "ridge.skops")
    code, out, err = _run(capsys, "predict", spec, "-i", "0:20", "--json")
    assert code == 0, err
    doc = json.loads(out)
    expected = [CLASSES[int(k)] for k in ridge.predict(x[:20])]
    assert [p["label"] for p in doc["predictions"]] == expected  # the model's own decisions
    assert all(p["confidence"] is None and p["top"] == [] for p in doc["predictions"])  # none invented
    code, out, err = _run(capsys, "predict", spec, "-i", "0:3")
    assert code == 0 and "Predicted (conf)" not in out and "Predicted" in out

    code, out, err = _run(
        capsys, "run", spec, "hop_skip_jump", "-i", "0:4", "--set", "max_iter=3", "--set", "max_eval=200", "--json"
    )
    assert code == 0, err
    run = json.loads(out)
    samples = run["samples"]
    assert all(s["initial_conf"] is None and s["final_conf"] is None for s in samples)
    assert [s["initial_label"] for s in samples] == [CLASSES[int(k)] for k in ridge.predict(x[:4])]
    # success is read from the labels of the stored adversarial inputs
    from feint.store.db import Store

    stored = Store().get_run(run["run_id"])
    assert stored is not None
    with np.load(f"{stored.artifacts}/adversarial.npz") as arrays:
        final = ridge.predict(arrays["x_adv"])
    assert [s["final_label"] for s in samples] == [CLASSES[int(k)] for k in final]
    assert [s["success"] for s in samples] == [bool(a != b) for a, b in zip(final, ridge.predict(x[:4]))]
    assert any(s["success"] for s in samples)
    code, out, err = _run(capsys, "show", run["run_id"])
    assert code == 0 and "malignant" in out or "benign" in out


def test_attacks_that_need_scores_are_refused_in_one_line(cancer, capsys, fresh_home):
    folder, *_ = cancer
    spec = _target(folder, "ridge", "ridge.skops")
    for attack in ("art.zoo", "art.virtual_adversarial"):
        code, out, err = _run(capsys, "run", spec, attack, "-i", "0")
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, err
        assert f"attack {attack} needs the model's scores and target ridge answers labels only" in lines[0]
        assert "hop_skip_jump" in lines[0] and "art.boundary" in lines[0]  # what does run on it
    code, out, err = _run(capsys, "run", spec, "pgd", "-i", "0")
    assert code == 2 and "is closed-box (labels only)" in err


def test_declaring_outputs_labels_hides_the_scores(cancer, capsys, fresh_home):
    folder, *_ = cancer
    spec = _target(folder, "logistic_labels", "logistic.skops", outputs="labels")
    code, out, err = _run(
        capsys,
        "scan",
        spec,
        "-a",
        "hop_skip_jump",
        "art.boundary",
        "-i",
        "0:2",
        "--set",
        "hop_skip_jump.max_iter=2",
        "--set",
        "hop_skip_jump.max_eval=100",
        "--set",
        "art.boundary.max_iter=5",
        "--set",
        "art.boundary.num_trial=5",
        "--set",
        "art.boundary.init_size=20",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["target_info"]["outputs"] == "labels"
    for run in doc["runs"]:
        assert all(s["initial_conf"] is None for s in run["samples"])
    assert all(a["best_score"] is None for a in doc["attacks"].values())
    code, out, err = _run(capsys, "report", doc["scan_id"], "-f", "markdown")
    assert code == 0 and "| 0 |" in out


def test_a_python_target_class_may_answer_labels_only(tmp_path, capsys, fresh_home):
    path = tmp_path / "halves.py"
    path.write_text(
        """import numpy as np
from feint.targets import Target
from feint.targets.base import label_rows


class Halves(Target):
    target_name = "halves"
    data_type = "tabular"
    input_shape = (2,)
    output_classes = ("left", "right")
    outputs = "labels"

    def load(self):
        self.X = np.array([[0.2, 0.5], [0.8, 0.5], [0.45, 0.1]], np.float32)
        self.y = np.array([0, 1, 0])

    def predict(self, x):
        return label_rows(np.where(np.asarray(x)[:, 0] > 0.5, "right", "left"), self.output_classes)
"""
    )
    code, out, err = _run(capsys, "run", str(path), "hop_skip_jump", "-i", "0:3", "--set", "max_iter=5", "--json")
    assert code == 0, err
    samples = json.loads(out)["samples"]
    assert all(s["success"] for s in samples) and all(s["initial_conf"] is None for s in samples)
    # the boundary is x0 = 0.5: each adversarial crossed it, by little more than its distance to it
    assert [round(s["linf"], 1) for s in samples] == [0.3, 0.3, 0.1] and samples[2]["linf"] < 0.06
