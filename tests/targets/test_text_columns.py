"""Tabular samples with text (categorical) columns: a CSV's text columns are held fixed,
each sample keeping its own values, and a scikit-learn pipeline that one-hot encodes them
(a ColumnTransformer fitted on a DataFrame, saved with skops) gets them beside the numeric
features the attacks change; distances are over the numeric features."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from feint.errors import FeintError
from tests.targets.own_models import HSJ_SMALL, cli

NUMERIC = ["age", "income", "score"]
TEXT = ["city", "plan"]


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def data(tmp_path):
    """A DataFrame with three numeric and two text columns whose label depends on both, a
    pipeline fitted on it (OneHotEncoder on the text, StandardScaler on the numbers), saved
    with skops, and the rows written to a CSV in another column order."""
    import pandas as pd
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(rng.random((n, 3)), columns=NUMERIC)
    frame["city"] = rng.choice(["Lyon", "Oslo", "Porto"], n)
    frame["plan"] = rng.choice(["basic", "pro"], n)
    logit = 3 * (frame.age + frame.score - 1) + 2.5 * (frame.city == "Oslo") - 1.5 * (frame.plan == "pro")
    y = (logit > 0).astype(int)
    encode = ColumnTransformer(
        [("text", OneHotEncoder(handle_unknown="ignore"), TEXT), ("num", StandardScaler(), NUMERIC)]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=500)).fit(frame, y)
    sio.dump(model, tmp_path / "pipe.skops")
    order = ["plan", "age", "city", "income", "score"]
    lines = [",".join([*order, "label"])]
    for i in range(n):
        cells = [frame[c].iloc[i] if c in TEXT else f"{frame[c].iloc[i]:.6f}" for c in order]
        lines.append(",".join([*cells, ["no", "yes"][int(y.iloc[i])]]))
    (tmp_path / "rows.csv").write_text("\n".join(lines) + "\n")
    # the CSV's values, as the model sees them when nothing is changed
    frame = frame.copy()
    frame[NUMERIC] = frame[NUMERIC].map(lambda v: float(f"{v:.6f}"))
    return model, frame, y


def _declare(folder, name, **doc):
    base = {
        "name": name,
        "model": "pipe.skops",
        "data_type": "tabular",
        "input_shape": [3],
        "classes": ["no", "yes"],
        "samples": {"csv": "rows.csv", "label": "label"},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**base, **doc}, sort_keys=False))
    return path


def _proba(model, frame, x, rows):
    """The pipeline's answer for numeric features ``x`` of the samples ``rows``, with their own text."""
    import pandas as pd

    given = pd.DataFrame(np.asarray(x, np.float64), columns=["age", "income", "score"])
    for c in TEXT:
        given[c] = frame[c].iloc[list(rows)].to_numpy()
    return model.predict_proba(given)


def test_text_columns_are_held_fixed_and_the_model_gets_each_samples_own(tmp_path, home, capsys, data):
    from feint.store.db import Store
    from feint.targets import get_target

    model, frame, y = data
    path = _declare(tmp_path, "churn")
    target = get_target(str(path))
    assert target.columns == ("age", "income", "score") and target.fixed_columns == ("plan", "city")
    np.testing.assert_allclose(target.X, frame[["age", "income", "score"]].to_numpy(np.float32), atol=1e-6)
    info = target.describe()
    assert info["fixed_columns"] == ["plan", "city"] and info["sample_accuracy"] > 0.85
    with target.holding(range(10)):  # one row per sample: each with its own text
        np.testing.assert_allclose(
            target.predict(target.X[:10]), _proba(model, frame, target.X[:10], range(10)), atol=1e-5
        )
    with target.holding([7]):  # rows around one sample: that sample's text on every row
        probe = target.X[7] + np.linspace(-0.2, 0.2, 5)[:, None]
        np.testing.assert_allclose(target.predict(probe), _proba(model, frame, probe, [7] * 5), atol=1e-5)
    with pytest.raises(FeintError, match=r"holds its text columns \(plan, city\) fixed per sample"):
        target.predict(target.X[:3])  # rows of no known sample

    rc, out, err = cli(capsys, "predict", path, "-i", "0:6", "--json")
    assert rc == 0, err
    shown = [p["confidence"] for p in json.loads(out)["predictions"]]
    np.testing.assert_allclose(shown, _proba(model, frame, target.X[:6], range(6)).max(1), atol=1e-5)

    rc, out, err = cli(capsys, "run", path, "hop_skip_jump", "-i", "0:6", *HSJ_SMALL, "--json")
    assert rc == 0, err
    assert "the text columns plan, city are held fixed; attacks change the 3 numeric columns only" in err
    run = Store().get_run(json.loads(out)["run_id"])
    with np.load(f"{run.artifacts}/adversarial.npz") as f:
        idx, x, x_adv = f["indices"], f["x"], f["x_adv"]
    assert x_adv.shape == (6, 3)
    # the stored outcome is what the real pipeline says of the adversarial numbers with each sample's text
    final = _proba(model, frame, x_adv, idx)
    assert [s.final_label for s in run.samples] == [["no", "yes"][k] for k in final.argmax(1)]
    np.testing.assert_allclose([s.final_conf for s in run.samples], final.max(1), atol=1e-5)
    assert run.successes > 0
    # distances over the numeric features only
    np.testing.assert_allclose([s.l2 for s in run.samples], np.linalg.norm(x_adv - x, axis=1), atol=1e-5)

    # a scan on a process pool rebuilds the target in its workers, text columns included
    rc, out, err = cli(
        capsys,
        "scan",
        path,
        "-a",
        "hop_skip_jump",
        "-i",
        "0:6",
        *HSJ_SMALL,
        "--executor",
        "process",
        "--workers",
        "2",
        "--chunk-size",
        "3",
        "--json",
    )
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["target_info"]["fixed_columns"] == ["plan", "city"]
    scanned = {s["index"]: s["final_label"] for s in doc["runs"][0]["samples"]}
    assert scanned == {s.index: s.final_label for s in run.samples}  # the same seed, the same results


def test_text_columns_are_refused_where_they_cannot_go(tmp_path, home, capsys, data):
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    model, frame, y = data
    path = _declare(tmp_path, "churn")
    # an attack that asks about inputs of its own: one line naming what runs
    rc, _, err = cli(capsys, "run", path, "art.membership_rule_based", "-i", "0:4")
    assert rc == 2 and err.count("\n") == 1
    assert "holds its text columns (plan, city) fixed per sample, so only evasion attacks run on it" in err
    # input_shape counts the numeric columns only
    rc, _, err = cli(capsys, "predict", _declare(tmp_path, "wide", input_shape=[5]), "-i", "0")
    assert rc == 2 and "3 numeric feature columns for input_shape [5]" in err and "(plan, city)" in err
    # a model fitted on arrays takes no text
    plain = LogisticRegression().fit(frame[NUMERIC].to_numpy(), y)
    sio.dump(plain, tmp_path / "plain.skops")
    rc, _, err = cli(capsys, "predict", _declare(tmp_path, "plain", model="plain.skops"), "-i", "0")
    assert rc == 2 and err.count("\n") == 1
    assert "hold text, and plain.skops was fitted on arrays, which take numbers only" in err
