"""`feint predict` and the library module under it: labels, confidences, top classes, images."""

import json
from pathlib import Path

import numpy as np
import pytest

from feint.cli.app import main
from feint.engine.predict import predict_samples, prediction_document
from feint.errors import FeintError
from feint.targets.base import Target


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json_matches_the_target(capsys, fresh_home, digits_keras):
    code, out, err = run_cli(capsys, "predict", "digits_keras", "-i", "0:4,10", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "predictions" and doc["target"] == "digits_keras" and doc["sample_index"] == "0:4,10"
    idx = [0, 1, 2, 3, 10]
    probs = digits_keras.predict(digits_keras.get_samples(idx))
    assert [p["index"] for p in doc["predictions"]] == idx
    for p, row, i in zip(doc["predictions"], probs, idx):
        assert p["label"] == str(int(row.argmax())) and p["confidence"] == pytest.approx(float(row.max()), abs=1e-6)
        assert p["true_label"] == str(int(digits_keras.y[i]))
        assert p["correct"] == (p["label"] == p["true_label"])
        top = p["top"]
        assert len(top) == 3 and top[0]["label"] == p["label"]
        assert top[0]["confidence"] >= top[1]["confidence"] >= top[2]["confidence"]
        assert top[2]["confidence"] == pytest.approx(float(np.sort(row)[-3]), abs=1e-6)
        image = Path(p["image"])  # saved under $FEINT_HOME/artifacts/predict/
        assert image.is_file() and image.name == f"{i}.png"
        assert fresh_home / "artifacts" / "predict" in image.parents
    assert doc["accuracy"] == pytest.approx(sum(p["correct"] for p in doc["predictions"]) / 5)
    from PIL import Image

    first = np.asarray(Image.open(doc["predictions"][0]["image"]))
    assert first.shape == (28, 28)
    expected = np.round(digits_keras.get_samples([0])[0, 0] * 255).astype(np.uint8)
    assert np.array_equal(first, expected)


def test_predict_table_and_output_folder(capsys, fresh_home, tmp_path, digits_blackbox):
    folder = tmp_path / "pngs"
    code, out, err = run_cli(capsys, "predict", "digits_blackbox", "-i", "5,6", "-o", str(folder))
    assert code == 0, err
    assert "Predictions of digits_blackbox" in out and "Top 3" in out
    assert sorted(p.name for p in folder.iterdir()) == ["5.png", "6.png"]
    assert str(folder / "5.png") in out.replace("\n", "")
    label = str(int(digits_blackbox.predict(digits_blackbox.get_samples([5]))[0].argmax()))
    row = next(line for line in out.splitlines() if line.strip("│ ").startswith("5 "))
    assert f"{label} (" in row


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "digits_keras", "-i", "5000"], "sample index 5000 is outside"),
        (["predict", "digits_keras", "-i", "zero"], "sample indices expect"),
        (["predict", "no_such_target"], "unknown target"),
    ],
)
def test_predict_mistakes_are_one_line(capsys, fresh_home, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (fresh_home / "artifacts" / "predict").exists()


class _Tabular(Target):
    """A closed-box tabular target without true labels: class 1 when the features sum above 0."""

    target_name = "tiny_tabular"
    data_type = "tabular"
    input_shape = (4,)
    output_classes = ("low", "high")
    bounds = (-5.0, 5.0)

    def load(self):
        self.X = np.array([[1, 1, 1, 1], [-1, -2, 0, 0], [0.5, -0.25, 0, 0]], np.float32)

    def predict(self, x):
        s = x.sum(axis=1)
        p = 1 / (1 + np.exp(-s))
        return np.stack([1 - p, p], axis=1)


def test_predict_any_target_tabular_closed_box(tmp_path):
    target = _Tabular()
    preds = predict_samples(target, "0:3", image_dir=tmp_path / "unused")
    assert [p.label for p in preds] == ["high", "low", "high"]
    assert preds[0].confidence == pytest.approx(1 / (1 + np.exp(-4)))
    assert all(p.true_label is None and p.correct is None and p.image is None for p in preds)
    assert [len(p.top) for p in preds] == [2, 2, 2]  # only two classes
    assert not (tmp_path / "unused").exists()  # no images for tabular data
    doc = prediction_document(target, preds)
    assert doc["accuracy"] is None and doc["images"] is None
    with pytest.raises(FeintError, match="outside the tiny_tabular sample set"):
        predict_samples(target, [3])
