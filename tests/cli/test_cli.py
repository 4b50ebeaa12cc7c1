"""The command line as a user drives it: JSON documents, tables, and one-line errors."""

import json
import sqlite3
import subprocess
import sys

import pytest

from feint.cli.app import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def db_counts(home):
    db = sqlite3.connect(home / "feint.db")
    try:
        return tuple(db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("scans", "runs", "samples"))
    finally:
        db.close()


def test_list_json(capsys):
    code, out, _ = run_cli(capsys, "list", "attacks", "--json")
    assert code == 0
    names = {a["name"]: a for a in json.loads(out)["attacks"]}
    assert {"pgd", "jsma", "wasserstein"} <= set(names)
    assert names["pgd"]["access"] == "open-box" and names["pgd"]["family"] == "evasion"
    code, out, _ = run_cli(capsys, "list", "targets", "--json")
    targets = {t["name"]: t for t in json.loads(out)["targets"]}
    assert targets["digits_blackbox"]["access"] == "closed-box"
    code, out, _ = run_cli(capsys, "list", "frameworks", "--json")
    from feint.attacks.catalog import attacks

    native = json.loads(out)["frameworks"][0]
    assert native["name"] == "native" and native["attacks"] == len(attacks("native")) >= 4


def test_run_json_and_show(capsys, fresh_home):
    code, out, err = run_cli(
        capsys, "run", "digits_keras", "pgd", "-i", "0:3", "--set", "eps=0.2", "--set", "max_iter=10", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "run" and doc["attack"] == "pgd" and doc["params"]["eps"] == 0.2
    assert [s["index"] for s in doc["samples"]] == [0, 1, 2]
    s = doc["samples"][0]
    for key in (
        "initial_label",
        "initial_conf",
        "final_label",
        "final_conf",
        "success",
        "linf",
        "l2",
        "l0",
        "forward_queries",
        "gradient_queries",
    ):
        assert key in s
    assert (
        s["linf"] <= 0.2 + 1e-6 and s["gradient_queries"] == 10 and s["forward_queries"] == 12
    )  # 10 steps + first and last prediction
    assert db_counts(fresh_home) == (0, 1, 3)
    code, out, _ = run_cli(capsys, "show", doc["run_id"], "--json")
    assert json.loads(out)["samples"] == doc["samples"]
    code, out, _ = run_cli(capsys, "show", doc["run_id"])
    assert "Success" in out and doc["run_id"] in out


def test_tables_in_a_log_are_not_folded_at_80_columns(capsys, fresh_home, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)  # stdout is captured: not a terminal, as in a CI log
    code, out, err = run_cli(capsys, "scan", "digits_keras", "-a", "pgd", "-i", "0:2", "--set", "max_iter=2")
    assert code == 0, err
    header = next(line for line in out.splitlines() if "Attack" in line and "Total Runs" in line)
    assert "Successes (%)" in header and "Queries/sample" in header


def test_scan_json_has_the_documented_keys(capsys, fresh_home):
    code, out, err = run_cli(
        capsys,
        "scan",
        "digits_keras",
        "-a",
        "pgd",
        "jsma",
        "pgd",
        "-i",
        "0:3",
        "--set",
        "pgd.max_iter=10",
        "--by-label",
        "--json",
    )
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc["attacks"]) == {"pgd", "jsma"}  # each attack once, even if named twice
    for a in doc["attacks"].values():
        for key in (
            "total_runs",
            "successes",
            "success_rate",
            "best_score",
            "best_attack_id",
            "best_params",
            "time_s",
            "queries",
        ):
            assert key in a
        assert set(a["time_s"]) == {"min", "avg", "max"} and a["total_runs"] == 1
    assert len(doc["runs"]) == 2 and all(r["scan_id"] == doc["scan_id"] for r in doc["runs"])
    assert {"run_id", "attack", "params", "elapsed_s", "samples"} <= set(doc["runs"][0])
    assert "by_label" in doc
    assert db_counts(fresh_home) == (1, 2, 6)
    code, out, _ = run_cli(capsys, "show", doc["scan_id"], "--json")
    assert json.loads(out)["attacks"] == doc["attacks"]
    code, out, _ = run_cli(capsys, "show", doc["scan_id"], "--by-label")
    assert "Summary by attack" in out and "Successes by input label" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["run", "nope", "pgd"],
            "unknown target 'nope'; accepted: creditfraud, digits_blackbox, digits_keras, movie_reviews, movie_reviews_blackbox, photos, "
            "satellite, a target file (FILE.yaml, FILE.py)",
        ),
        (["run", "digits_keras", "nope"], "unknown attack 'nope'; accepted:"),
        (["run", "digits_keras", "pgd", "--set", "epz=1"], "unknown parameter 'epz'; accepted:"),
        (["run", "digits_keras", "pgd", "--set", "eps=banana"], "parameter 'eps' expects a number"),
        (
            ["run", "digits_keras", "pgd", "--set", "max_iter=0"],
            "parameter 'max_iter' expects an integer in [1, 100000]",
        ),
        (["run", "digits_keras", "pgd", "-i", "1000"], "sample index 1000 is outside the digits_keras sample set"),
        (["run", "digits_keras", "pgd", "-i", "x"], "parameter 'sample_index' expects sample indices"),
        (["run", "digits_blackbox", "jsma"], "needs gradients (open-box) and target digits_blackbox is closed-box"),
        (["scan", "digits_blackbox", "-a", "pgd"], "needs gradients"),
        (["scan", "digits_keras", "-a", "pgd", "--set", "jsma.theta=1"], "unknown attack in --set 'jsma'"),
        (["scan", "digits_keras", "-a", "pgd", "--set", "theta=1"], "no attack of this scan has a parameter 'theta'"),
        (["show", "deadbeef"], "no stored run or scan with id 'deadbeef'"),
        (["list", "things"], "invalid choice: 'things'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(capsys, fresh_home, argv, message):
    before = db_counts(fresh_home) if (fresh_home / "feint.db").exists() else None
    with pytest.raises(SystemExit) if argv[0] == "list" else _nothing() as exc:
        code, out, err = run_cli(capsys, *argv)
    if argv[0] == "list":
        code, err = exc.value.code, capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("feint: error: ") and message in err
    if before is not None:
        assert db_counts(fresh_home) == before


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_console_script_help_is_instant_and_lists_commands():
    out = subprocess.run([sys.executable, "-m", "feint", "--help"], capture_output=True, text=True, check=True).stdout
    for cmd in ("list", "run", "scan", "show", "info"):
        assert cmd in out
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, feint.cli.app; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert imported.strip() == "False"


def test_info_shows_typed_options(capsys):
    code, out, _ = run_cli(capsys, "info", "wasserstein", "--json")
    params = {p["name"]: p for p in json.loads(out)["params"]}
    assert params["regularization"]["default"] == "3000"
    assert {
        "conjugate_sinkhorn_max_iter",
        "projected_sinkhorn_max_iter",
        "eps_iter",
        "eps_factor",
        "kernel_size",
        "p",
        "batch_size",
        "sample_index",
        "seed",
        "logger",
    } <= set(params)


def test_run_and_scan_run_the_exact_value_given(capsys, fresh_home):
    """Option values travel as data, not display text: a value with more digits than ``%g``
    shows runs as given in ``feint run`` and ``feint scan`` alike, and is stored as given."""
    import numpy as np

    from feint.store.db import Store

    given = "0.123456789"
    code, out, err = run_cli(
        capsys, "run", "digits_keras", "pgd", "-i", "0:2", "--set", f"eps={given}", "--set", "max_iter=5", "--json"
    )
    assert code == 0, err
    alone = json.loads(out)
    code, out, err = run_cli(
        capsys,
        "scan",
        "digits_keras",
        "-a",
        "pgd",
        "-i",
        "0:2",
        "--set",
        f"pgd.eps={given}",
        "--set",
        "pgd.max_iter=5",
        "--executor",
        "local",
        "--json",
    )
    assert code == 0, err
    scanned = json.loads(out)["runs"][0]
    assert alone["params"]["eps"] == scanned["params"]["eps"] == float(given)
    store = Store()
    arrays = []
    for run_id in (alone["run_id"], scanned["run_id"]):
        assert store.get_run(run_id).params["eps"] == float(given)
        with np.load(f"{store.get_run(run_id).artifacts}/adversarial.npz") as f:
            arrays.append(f["x_adv"])
    assert np.array_equal(arrays[0], arrays[1])
