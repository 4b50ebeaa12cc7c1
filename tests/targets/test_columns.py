"""Tabular samples with named columns: a CSV keeps its header, ``columns`` names the
features of samples without one, the target exposes them, and a scikit-learn pipeline
fitted on a DataFrame (a ColumnTransformer selecting by name, saved with skops) gets a
DataFrame with those columns."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from feint.errors import FeintError
from tests.targets.own_models import HSJ_SMALL, cli

FITTED = ["age", "income", "score", "noise"]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def pipeline(tmp_path):
    """A ColumnTransformer (scaling two columns by name, passing one through, dropping one)
    and a logistic regression, fitted on a DataFrame and saved with skops."""
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.random((80, 4)), columns=FITTED)
    y = (frame.age + frame.score > 1).astype(int)
    select = ColumnTransformer([("num", StandardScaler(), ["age", "income"]), ("keep", "passthrough", ["score"])])
    model = make_pipeline(select, LogisticRegression()).fit(frame, y)
    sio.dump(model, tmp_path / "pipe.skops")
    return model, frame, y


def _declare(folder, name, **doc):
    base = {"name": name, "model": "pipe.skops", "data_type": "tabular", "input_shape": [4], "classes": ["no", "yes"]}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**base, **doc}, sort_keys=False))
    return path


def _csv(folder, frame, y, order, extra=None):
    """The rows in the columns ``order`` (not the fitted order), a label, maybe an extra column."""
    header = [*order, "label", *([extra] if extra else [])]
    lines = [",".join(header)]
    for i in range(len(frame)):
        values = [f"{frame[c].iloc[i]:.6f}" for c in order] + [["no", "yes"][int(y.iloc[i])]]
        lines.append(",".join(values + (["7"] if extra else [])))
    (folder / "rows.csv").write_text("\n".join(lines) + "\n")


def test_column_transformer_pipeline_on_csv(tmp_path, home, capsys, pipeline):
    from feint.targets import get_target

    model, frame, y = pipeline
    order = ["score", "noise", "age", "income"]
    _csv(tmp_path, frame, y, order)
    path = _declare(tmp_path, "pipe", samples={"csv": "rows.csv", "label": "label"})
    target = get_target(str(path))
    assert target.columns == tuple(order)
    assert target.describe()["columns"] == order and target.describe()["input"] == "DataFrame"
    rows = frame[order].to_numpy(np.float32)
    np.testing.assert_allclose(target.X, rows, atol=1e-6)
    import pandas as pd

    expected = model.predict_proba(pd.DataFrame(rows, columns=order)[FITTED])
    np.testing.assert_allclose(target.predict(target.X), expected, atol=1e-6)
    assert target.describe()["sample_accuracy"] > 0.9
    rc, _, err = cli(capsys, "predict", path, "-i", "0:3")
    assert rc == 0, err
    rc, _, err = cli(capsys, "run", path, "hop_skip_jump", "-i", "0:2", *HSJ_SMALL)
    assert rc == 0, err
    rc, out, err = cli(capsys, "shell", "-c", f"interact {path}; predict -i 0")
    assert rc == 0, err


def test_columns_pick_csv_columns_and_name_npz_samples(tmp_path, home, pipeline):
    from feint.targets import get_target

    model, frame, y = pipeline
    _csv(tmp_path, frame, y, ["noise", "score", "age", "income"], extra="row_id")
    picked = ["income", "age", "score", "noise"]
    target = get_target(
        str(_declare(tmp_path, "picked", columns=picked, samples={"csv": "rows.csv", "label": "label"}))
    )
    assert target.columns == tuple(picked)
    np.testing.assert_allclose(target.X, frame[picked].to_numpy(np.float32), atol=1e-6)
    np.testing.assert_allclose(target.predict(target.X), model.predict_proba(frame), atol=1e-6)

    # an npz has no header: columns names its features; without them the model's own names are taken
    np.savez(tmp_path / "rows.npz", X=frame[picked].to_numpy(np.float32), y=y.to_numpy())
    named = get_target(str(_declare(tmp_path, "named", columns=picked, samples="rows.npz")))
    np.testing.assert_allclose(named.predict(named.X), model.predict_proba(frame), atol=1e-6)
    np.savez(tmp_path / "fitted.npz", X=frame.to_numpy(np.float32), y=y.to_numpy())
    plain = get_target(str(_declare(tmp_path, "plain", samples="fitted.npz")))
    assert plain.columns == tuple(FITTED)
    np.testing.assert_allclose(plain.predict(plain.X), model.predict_proba(frame), atol=1e-6)


def test_creditfraud_names_its_columns():
    from feint.data.creditcard import COLUMNS
    from feint.targets import get_target

    assert get_target("creditfraud", load=False).columns == COLUMNS


def test_column_errors(tmp_path, home, capsys, pipeline):
    _, frame, y = pipeline
    _csv(tmp_path, frame, y, ["score", "noise", "age", "income"])
    np.savez(tmp_path / "rows.npz", X=frame.to_numpy(np.float32), y=y.to_numpy())
    csv = {"csv": "rows.csv", "label": "label"}
    cases = [
        ({"columns": ["a", "b"], "samples": csv}, "columns: names 2 columns; input_shape [4] has 4 features"),
        ({"columns": ["age", "age", "score", "noise"], "samples": csv}, "columns: column 'age' is named twice"),
        ({"columns": "age", "samples": csv}, "columns: expects a list of 4 column names; got 'age'"),
        (
            {"columns": ["age", "income", "score", "label"], "samples": csv},
            "columns: rows.csv has no feature column 'label'; its columns: score, noise, age, income",
        ),
        (
            {"columns": ["age", "income", "score", "other"], "samples": "rows.npz"},
            "pipe.skops was fitted on columns the samples do not have: noise; the samples' columns: "
            "age, income, score, other",
        ),
    ]
    for n, (extra, message) in enumerate(cases):
        rc, _, err = cli(capsys, "predict", _declare(tmp_path, f"case{n}", **extra))
        assert rc == 2 and len(err.strip().splitlines()) == 1 and message in err, err
    image = {
        "name": "img",
        "model": "pipe.skops",
        "data_type": "image",
        "input_shape": [1, 2, 2],
        "classes": ["a", "b"],
    }
    (tmp_path / "img.yaml").write_text(
        yaml.safe_dump({**image, "samples": "rows.npz", "columns": ["a", "b", "c", "d"]})
    )
    from feint.targets import get_target

    with pytest.raises(FeintError, match="columns: applies to tabular targets only"):
        get_target(str(tmp_path / "img.yaml"))


def test_skl2onnx_pipeline_with_one_input_per_column(tmp_path, home, pipeline):
    """skl2onnx at its defaults on a pipeline fitted on a DataFrame writes one (N, 1) input
    per column; each takes the samples' column of its name."""
    import pandas as pd
    from skl2onnx import to_onnx

    from feint.targets import get_target

    model, frame, y = pipeline
    (tmp_path / "pipe.onnx").write_bytes(to_onnx(model, frame[:1].astype(np.float32)).SerializeToString())
    order = ["noise", "income", "score", "age"]
    _csv(tmp_path, frame, y, order)
    target = get_target(
        str(_declare(tmp_path, "onnx_pipe", model="pipe.onnx", samples={"csv": "rows.csv", "label": "label"}))
    )
    expected = model.predict_proba(pd.DataFrame(target.X.astype(np.float64), columns=order)[FITTED])
    np.testing.assert_allclose(target.predict(target.X), expected, atol=1e-5)
    assert target.describe()["inputs_by_column"] == FITTED
    assert target.describe()["sample_accuracy"] > 0.9
