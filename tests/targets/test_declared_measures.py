"""A declared tabular target (a YAML file) has the % Euclidean distance like a built-in one:
computed once by the run, stored, and shown by the scan console, ``show``, ``show --json``
and the Markdown report with the values a reader recomputes from the stored arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.targets.own_models import cli

COUNTERFIT_NPZ = Path(__file__).resolve().parents[3] / "shared" / "data" / "counterfit" / "creditcard.npz"


def _samples(folder: Path) -> Path:
    """Counterfit's creditcard.npz (rows of 30 features under ``X``, no labels), or rows of
    the same layout where that file is not beside the repository."""
    if COUNTERFIT_NPZ.exists():
        return COUNTERFIT_NPZ
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 30)).astype(np.float32)
    x[:, 0] = rng.uniform(0, 1.7e5, size=20)  # seconds since the first transaction
    path = folder / "creditcard.npz"
    np.savez(path, X=x)
    return path


def _declare(folder: Path) -> Path:
    import torch

    lin = torch.nn.Linear(30, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[1, 1:29] = 1.0  # fraud scores the sum of V1..V28
        lin.bias.zero_()
    torch.jit.save(torch.jit.script(lin), str(folder / "fraud.pt"))
    doc = {
        "name": "own_fraud",
        "model": "fraud.pt",
        "data_type": "tabular",
        "input_shape": [30],
        "classes": ["benign", "fraud"],
        "bounds": [-100, 200000],
        "samples": str(_samples(folder)),
    }
    path = folder / "own_fraud.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _recomputed(artifacts: str) -> dict[int, float]:
    """The % Euclidean distance of each sample, by a reader, from the run's stored arrays."""
    with np.load(Path(artifacts) / "adversarial.npz") as f:
        x, x_adv = f["x"].astype(np.float64), f["x_adv"].astype(np.float64)
        indices = f["indices"]
    eps = float(np.finfo(np.float32).eps)
    return {
        int(i): 100 * float(np.sqrt(((a - o) ** 2).sum())) / (float(np.sqrt((o**2).sum())) + eps)
        for i, o, a in zip(indices, x, x_adv)
    }


def test_a_declared_tabular_target_shows_the_stored_euclid_pct_everywhere(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "240")  # the console's tables unfolded
    path = _declare(tmp_path)
    argv = ["scan", path, "-a", "pgd", "-i", "0:4", "--set", "max_iter=3", "--set", "eps=2"]
    rc, out, err = cli(capsys, *argv)
    assert rc == 0, err
    assert "% Euclid. dist." in out  # the scan's console table

    from feint.store.db import Store

    scan_id = Store().recent_ids(1)[0]
    rc, out, err = cli(capsys, "show", scan_id, "--json")
    assert rc == 0, err
    run = json.loads(out)["runs"][0]
    expected = _recomputed(run["artifacts"])
    got = {s["index"]: s["euclid_pct"] for s in run["samples"]}
    assert sorted(got) == [0, 1, 2, 3] and got == pytest.approx(expected, rel=1e-12)
    assert any(v > 0 for v in got.values())

    rc, out, err = cli(capsys, "show", run["run_id"])
    assert rc == 0, err
    header = next(line for line in out.splitlines() if "Sample" in line)
    assert "% Euclid. dist." in header and header.index("% Euclid.") < header.index("Linf")
    for index, value in expected.items():
        row = next(line for line in out.splitlines() if line.strip("│┃ ").startswith(f"{index} "))
        assert f"{value:.4g}" in row

    report = tmp_path / "scan.md"
    rc, _, err = cli(capsys, "report", scan_id, "-o", report)
    assert rc == 0, err
    md = report.read_text()
    header = next(line for line in md.splitlines() if line.startswith("| sample |"))
    assert "| % Euclid. dist. |" in header
    column = header.strip("|").split("|").index(" % Euclid. dist. ")
    rows = [line.strip("|").split("|") for line in md.splitlines() if line.startswith("| ") and "(conf)" not in line]
    shown = {int(r[0]): r[column].strip() for r in rows if r[0].strip().isdigit() and len(r) > column}
    assert shown == {i: f"{v:.4g}" for i, v in expected.items()}
