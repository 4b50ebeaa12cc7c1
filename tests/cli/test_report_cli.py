"""feint scan --sweep/--fail-on/--report and feint report, as a user drives them."""

import json
import xml.etree.ElementTree as ET

import pytest

from feint.cli.app import main
from tests.cli.test_cli import db_counts, run_cli

SMALL = ["-a", "pgd", "-i", "0:3", "--set", "max_iter=5"]


def test_a_sweep_scan_prints_the_curve_table_gates_and_writes_reports(capsys, fresh_home, tmp_path):
    html, xml = tmp_path / "scan.html", tmp_path / "junit.xml"
    code, out, err = run_cli(
        capsys,
        "scan",
        "digits_keras",
        *SMALL,
        "--sweep",
        "eps=0.05,0.3",
        "--fail-on",
        "success_rate > 0.5",
        "--fail-on",
        "pgd.successes > 100",
        "--report",
        str(html),
        "--report",
        str(xml),
    )
    _, shown, _ = run_cli(capsys, "show", _last_scan(fresh_home), "--json")
    doc = json.loads(shown)
    rate = doc["attacks"]["pgd"]["success_rate"]
    assert code == (1 if rate > 0.5 else 0), err
    assert "Summary by attack" in out and "pgd: success against eps" in out and "Gates (--fail-on)" in out
    assert f"html report: {html}" in out and f"junit report: {xml}" in out
    assert doc["attacks"]["pgd"]["total_runs"] == 2 and doc["settings"]["sweep"] == {"eps": ["0.05", "0.3"]}
    assert [p["value"] for p in doc["sweeps"]["pgd"]["points"]] == [0.05, 0.3]
    assert db_counts(fresh_home) == (1, 2, 6)
    text = html.read_text()
    assert 'id="robustness"' in text and 'id="gallery-pgd"' in text
    case = ET.parse(xml).getroot().find("testsuite/testcase[@name='pgd']")
    assert (case.find("failure") is not None) == (rate > 0.5)
    if rate > 0.5:
        assert err == "feint: gate failed: success_rate > 0.5 (pgd)\n"


def _last_scan(home):
    import sqlite3

    db = sqlite3.connect(home / "feint.db")
    try:
        return db.execute("SELECT scan_id FROM scans ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    finally:
        db.close()


def test_a_failing_gate_exits_1_and_the_junit_file_shows_the_attack(capsys, fresh_home, tmp_path):
    xml = tmp_path / "junit.xml"
    code, out, err = run_cli(
        capsys,
        "scan",
        "digits_keras",
        *SMALL,
        "--fail-on",
        "successes >= 0",
        "--fail-on",
        "success_rate > 2",
        "--report",
        str(xml),
        "--json",
    )
    assert code == 1
    assert err.splitlines()[-1] == "feint: gate failed: successes >= 0 (pgd)"
    assert f"junit report: {xml}" in err  # stdout holds the JSON alone
    doc = json.loads(out)
    assert [(g["expr"], g["failed"], g["attacks"]) for g in doc["gates"]] == [
        ("successes >= 0", True, ["pgd"]),
        ("success_rate > 2", False, []),
    ]
    root = ET.parse(xml).getroot()
    assert root.get("failures") == "1"
    failure = root.find("testsuite/testcase[@name='pgd']/failure")
    assert failure.get("message").startswith("successes >= 0 (successes = ")


def test_the_json_report_equals_what_scan_json_printed(capsys, fresh_home, tmp_path):
    code, printed, err = run_cli(
        capsys, "scan", "digits_keras", *SMALL, "--by-label", "--json", "--report", str(tmp_path / "r.json")
    )
    assert code == 0, err
    doc = json.loads(printed)
    assert (tmp_path / "r.json").read_text() == printed
    code, out, _ = run_cli(capsys, "report", doc["scan_id"], "--format", "json")
    assert code == 0 and out == printed
    code, out, _ = run_cli(capsys, "show", doc["scan_id"], "--json")
    assert out == printed


def test_report_writes_every_format_of_a_stored_scan_and_run(capsys, fresh_home, tmp_path):
    code, out, err = run_cli(capsys, "scan", "digits_keras", *SMALL, "--json")
    doc = json.loads(out)
    for fmt, name in [
        ("html", "r.html"),
        ("json", "r.json"),
        ("jsonl", "r.jsonl"),
        ("junit", "r.xml"),
        ("markdown", "r.md"),
    ]:
        path = tmp_path / name
        code, out, err = run_cli(capsys, "report", doc["scan_id"], "-o", str(path))  # format from the name
        assert code == 0, err
        assert err == f"{fmt} report of scan {doc['scan_id']}: {path}\n" and out == ""
        assert path.stat().st_size > 200
    assert len((tmp_path / "r.jsonl").read_text().splitlines()) == 3
    code, out, _ = run_cli(capsys, "report", doc["scan_id"])  # markdown on stdout
    assert out.startswith("# feint scan report: digits_keras")
    run_id = doc["runs"][0]["run_id"]
    code, out, _ = run_cli(capsys, "report", run_id, "-f", "json")
    assert json.loads(out)["run_id"] == run_id and json.loads(out)["kind"] == "run"
    code, out, _ = run_cli(capsys, "report", run_id, "-f", "html", "--gallery", "1")
    assert "feint run report" in out and "showing 1 of 3" in out


def test_report_checks_gates_on_a_past_scan(capsys, fresh_home, tmp_path):
    code, out, _ = run_cli(capsys, "scan", "digits_keras", *SMALL, "--json")
    scan_id = json.loads(out)["scan_id"]
    code, out, err = run_cli(capsys, "report", scan_id, "-f", "junit", "--fail-on", "pgd.samples == 3")
    assert code == 1 and err == "feint: gate failed: pgd.samples == 3 (pgd)\n"
    assert ET.fromstring(out).find("testsuite/testcase/failure") is not None
    code, out, err = run_cli(capsys, "report", scan_id, "-f", "junit", "--fail-on", "pgd.samples != 3")
    assert code == 0 and ET.fromstring(out).find("testsuite/testcase/failure") is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["scan", "digits_keras", *SMALL, "--fail-on", "success_rate >"], "bad --fail-on expression 'success_rate >'"),
        (["scan", "digits_keras", *SMALL, "--fail-on", "sucess_rate > 0.5"], "unknown metric 'sucess_rate'"),
        (
            ["scan", "digits_keras", *SMALL, "--fail-on", "jsma.success_rate > 0.5"],
            "names attack 'jsma', which this scan does not run; its attacks: pgd",
        ),
        (["scan", "digits_keras", *SMALL, "--report", "out.pdf"], "cannot tell the report format of 'out.pdf'"),
        (["scan", "digits_keras", *SMALL, "--sweep", "eps"], "--sweep expects [ATTACK.]NAME=V1,V2,...; got 'eps'"),
        (
            ["scan", "digits_keras", *SMALL, "--sweep", "norm=1,2"],
            "--sweep needs a numeric parameter; pgd.norm is one of",
        ),
        (["scan", "digits_keras", *SMALL, "--sweep", "eps=0.1,banana"], "parameter 'eps' expects a number"),
        (["scan", "digits_keras", *SMALL, "--sweep", "eps=0.1,-1"], "parameter 'eps' expects a number in"),
        (
            ["scan", "digits_keras", *SMALL, "--sweep", "theta=0.1,0.2"],
            "no attack of this scan has a parameter 'theta' to sweep",
        ),
        (["scan", "digits_keras", *SMALL, "--sweep", "jsma.theta=0.1"], "unknown attack in --sweep 'jsma'"),
        (
            ["scan", "digits_keras", *SMALL, "--sweep", "seed=1,2"],
            "--sweep takes an attack parameter; seed shapes the run",
        ),
        (
            ["scan", "digits_keras", *SMALL, "--sweep", "eps=0.1", "--sweep", "pgd.eps_step=0.1"],
            "one swept parameter per attack; pgd would sweep eps and eps_step",
        ),
        (["report", "deadbeef"], "no stored run or scan with id 'deadbeef'"),
        (["report", "deadbeef", "-o", "x.docx"], "cannot tell the report format of 'x.docx'"),
        (["report", "deadbeef", "--fail-on", "1 < 2"], "a comparison needs a metric"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_stores_nothing(capsys, fresh_home, argv, message):
    before = db_counts(fresh_home) if (fresh_home / "feint.db").exists() else None
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("feint: error: ") and message in err, err
    if before is not None:
        assert db_counts(fresh_home) == before
    if argv[0] == "scan":
        assert not (fresh_home / "feint.db").exists() or db_counts(fresh_home)[0] == 0


def test_help_tells_the_gate_grammar_and_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    out = capsys.readouterr().out
    for text in ("--sweep", "--fail-on EXPR", "--report FILE", "success_rate", "queries", ".min/.avg/.max"):
        assert text in out
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "--format" in out and "jsonl" in out and "junit" in out
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "1 a --fail-on gate failed" in capsys.readouterr().out
