"""creditfraud: Counterfit's tabular target, on synthetic data unless the Kaggle CSV is given;
Counterfit's creditcard.npz as samples; the % Euclidean distance of tabular results."""

import json
from pathlib import Path

import numpy as np
import pytest

import feint
from feint.cli.app import main
from feint.data.creditcard import COLUMNS, synthetic
from feint.errors import FeintError
from feint.records import euclid_pct
from feint.targets.builtin.creditfraud import CreditFraud

COUNTERFIT = Path(__file__).resolve().parents[3] / "shared" / "data" / "counterfit"
NPZ = COUNTERFIT / "creditcard.npz"
needs_npz = pytest.mark.skipif(not NPZ.is_file(), reason=f"Counterfit's creditcard.npz is not at {NPZ}")


@pytest.fixture(scope="module")
def synthetic_target():
    mp = pytest.MonkeyPatch()
    mp.delenv("FEINT_CREDITFRAUD_CSV", raising=False)
    mp.delenv("FEINT_CREDITFRAUD_NPZ", raising=False)
    try:
        yield CreditFraud().ensure_loaded()
    finally:
        mp.undo()


def fresh(monkeypatch, csv=None, npz=None) -> CreditFraud:
    for env, value in (("FEINT_CREDITFRAUD_CSV", csv), ("FEINT_CREDITFRAUD_NPZ", npz)):
        if value is None:
            monkeypatch.delenv(env, raising=False)
        else:
            monkeypatch.setenv(env, str(value))
    return CreditFraud()


def test_synthetic_data_is_seeded_and_shaped_like_the_kaggle_set():
    x, y = synthetic()
    x2, y2 = synthetic()
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert x.shape == (20_000, len(COLUMNS)) and x.dtype == np.float32
    assert 0.02 < y.mean() < 0.05 and y.sum() >= 500  # a few percent fraud, enough to attack
    benign_v = x[y == 0, 1:29]
    assert np.allclose(benign_v.mean(0), 0, atol=0.1)
    spread = benign_v.std(0)
    assert spread[0] > 1.5 > 0.5 > spread[-1]  # falling, as principal components' spread does
    time_s, amount = x[:, 0], x[:, -1]
    assert time_s.min() >= 0 and time_s.max() < 172_800
    assert amount.min() >= 0 and np.median(amount) < amount.mean()  # log-normal: a long right tail
    assert not np.array_equal(synthetic(seed=1)[0], x)


def test_synthetic_target_says_so_everywhere(synthetic_target, capsys):
    d = synthetic_target.describe()
    assert d["synthetic"] is True and "SYNTHETIC" in d["data"]
    assert d["data_type"] == "tabular" and d["input_shape"] == [30] and d["classes"] == ["benign", "fraud"]
    assert d["access"] == "closed-box"
    # separable, not trivially
    assert d["held_out_accuracy"] > 0.97 and 0.5 < d["held_out_fraud_recall"] < 0.99
    # the bounds cover every feature of the data
    lo, hi = synthetic_target.bounds
    assert lo <= synthetic_target.X.min() and synthetic_target.X.max() <= hi
    # samples: labelled, half fraud
    assert synthetic_target.y is not None and synthetic_target.y.mean() == 0.5
    assert main(["list", "targets", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)["targets"]}
    assert "SYNTHETIC" in listed["creditfraud"]["description"]
    assert listed["creditfraud"]["access"] == "closed-box"


def test_euclid_pct_matches_a_hand_computation():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    x_adv = np.array([[3.0, 5.0], [0.0, 0.0]], np.float32)
    got = euclid_pct(x, x_adv)
    assert got[0] == pytest.approx(100 * 1.0 / 5.0, rel=1e-6) and got[1] == 0.0


def test_closed_box_attack_turns_fraud_and_reports_euclid_pct(synthetic_target, tmp_path):
    attack = feint.get_attack("hop_skip_jump")()
    attack.update({"sample_index": "0:6", "max_iter": 3, "max_eval": 100, "init_eval": 20})
    run = feint.execute_run(synthetic_target, attack, artifacts_root=tmp_path)
    assert run.successes >= 1
    with np.load(Path(run.artifacts) / "adversarial.npz") as f:
        x, x_adv = f["x"].astype(np.float64), f["x_adv"].astype(np.float64)
    for i, s in enumerate(run.samples):
        hand = 100 * np.sqrt(((x_adv[i] - x[i]) ** 2).sum()) / np.sqrt((x[i] ** 2).sum())
        assert s.euclid_pct == pytest.approx(hand, rel=1e-5)
        assert s.to_dict()["euclid_pct"] == s.euclid_pct
        if s.success:
            assert s.euclid_pct > 0 and s.l2 > 0
    # The store keeps the figure, and every report reads it from there (the JSON document
    # here, the console below).
    from feint.report.jsonout import run_document
    from feint.store.db import Store

    Store(tmp_path / "feint.db").add_run(run)
    back = Store(tmp_path / "feint.db").get_run(run.run_id)
    doc = run_document(back)
    assert [s["euclid_pct"] for s in doc["samples"]] == [s.euclid_pct for s in run.samples]
    from io import StringIO

    from rich.console import Console

    from feint.report.console import print_run

    out = StringIO()
    print_run(Console(file=out, width=200), back)
    assert "% Euclid. dist." in out.getvalue()


def test_art_closed_box_attack_works_on_tabular(synthetic_target):
    attack = feint.get_attack("art.hop_skip_jump")()
    attack.update({"sample_index": "0:2", "max_iter": 2, "max_eval": 50, "init_eval": 10})
    run = feint.execute_run(synthetic_target, attack)
    assert run.n == 2 and all(s.euclid_pct is not None for s in run.samples)
    assert all(s.forward_queries > 2 for s in run.samples)


@needs_npz
def test_reads_counterfits_creditcard_npz(monkeypatch):
    target = fresh(monkeypatch, npz=NPZ).ensure_loaded()
    with np.load(NPZ) as f:
        assert np.array_equal(target.X, f["X"])
    assert target.y is None and target.describe()["samples"] == 2684
    assert "creditcard.npz" in target.info["samples_from"]
    probs = target.predict(target.get_samples([0, 1, 2]))
    assert probs.shape == (3, 2) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_trains_on_a_kaggle_schema_csv(monkeypatch, tmp_path):
    x, y = synthetic(n=3000, fraud_rate=0.05, seed=3)
    path = tmp_path / "creditcard.csv"
    lines = [",".join(f'"{c}"' for c in (*COLUMNS, "Class"))]
    lines += [",".join(f"{v:.6f}" for v in row) + f',"{label}"' for row, label in zip(x, y)]
    path.write_text("\n".join(lines) + "\n")
    target = fresh(monkeypatch, csv=path).ensure_loaded()
    d = target.describe()
    assert d["synthetic"] is False and str(path) in d["data"] and d["trained_on"] == 2250
    assert d["held_out_accuracy"] > 0.9


def test_user_mistakes_are_one_line_errors(monkeypatch, tmp_path):
    with pytest.raises(FeintError, match="FEINT_CREDITFRAUD_CSV names .* not a file"):
        fresh(monkeypatch, csv=tmp_path / "missing.csv").ensure_loaded()
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("Time,V1,Amount,Class\n0,1,2,0\n")
    with pytest.raises(FeintError, match="lacks the column.*V2.*accepted"):
        fresh(monkeypatch, csv=bad_csv).ensure_loaded()
    bad_npz = tmp_path / "bad.npz"
    np.savez(bad_npz, X=np.zeros((4, 29), np.float32))
    with pytest.raises(FeintError, match=r"shape \(4, 29\); accepted: N x 30"):
        fresh(monkeypatch, npz=bad_npz).ensure_loaded()
    no_x = tmp_path / "nox.npz"
    np.savez(no_x, data=np.zeros((4, 30), np.float32))
    with pytest.raises(FeintError, match="no array 'X'"):
        fresh(monkeypatch, npz=no_x).ensure_loaded()


def test_cli_scan_stores_and_reprints_the_euclid_pct(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path))
    monkeypatch.delenv("FEINT_CREDITFRAUD_CSV", raising=False)
    monkeypatch.delenv("FEINT_CREDITFRAUD_NPZ", raising=False)
    argv = [
        "scan",
        "creditfraud",
        "-a",
        "hop_skip_jump",
        "-i",
        "0:3",
        "--set",
        "max_iter=2",
        "--set",
        "max_eval=50",
        "--set",
        "init_eval=10",
        "--json",
    ]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["target_info"]["synthetic"] is True
    samples = doc["runs"][0]["samples"]
    assert all("euclid_pct" in s for s in samples)
    assert main(["show", doc["scan_id"], "--json"]) == 0
    again = json.loads(capsys.readouterr().out)["runs"][0]["samples"]
    assert [s["euclid_pct"] for s in again] == pytest.approx([s["euclid_pct"] for s in samples])
    assert main(["show", doc["runs"][0]["run_id"]]) == 0
    assert "Euclid" in capsys.readouterr().out  # the column header (folded on a narrow terminal)
