"""Every report format, rendered from a stored scan (or run) alone."""

import json
import re
import xml.etree.ElementTree as ET

import pytest

from feint.report import formats
from feint.report.jsonout import scan_document
from feint.report.summary import clean_accuracy, sweeps
from tests.report.conftest import GATES


@pytest.fixture()
def subject(report_store):
    store, scan_id = report_store
    return formats.load(store, scan_id)


def test_the_json_report_is_the_scan_document(report_store, subject):
    store, scan_id = report_store
    doc = json.loads(formats.render(subject, "json"))
    assert doc == json.loads(json.dumps(scan_document(store.get_scan(scan_id))))
    for key in (
        "schema",
        "kind",
        "scan_id",
        "target",
        "target_info",
        "started_at",
        "settings",
        "clean_accuracy",
        "attacks",
        "by_label",
        "sweeps",
        "gates",
        "runs",
    ):
        assert key in doc
    assert doc["kind"] == "scan" and doc["attacks"]["pgd"]["total_runs"] == 2  # one row per attack
    assert doc["sweeps"]["pgd"]["param"] == "eps"
    assert [p["value"] for p in doc["sweeps"]["pgd"]["points"]] == [0.05, 0.3]
    assert [g["expr"] for g in doc["gates"]] == GATES
    assert doc["gates"][1] == {
        "expr": "pgd.queries.avg > 1000",
        "failed": False,
        "attacks": [],
        "values": {"pgd": {"queries.avg": 12.0}},
    }  # 5 steps: 7 forward + 5 gradient
    assert set(doc["attacks"]["pgd"]["linf"]) == {"min", "avg", "max"}


def test_jsonl_is_one_record_per_sample_with_its_run(subject):
    lines = formats.render(subject, "jsonl").splitlines()
    assert len(lines) == 6  # 2 runs x 3 samples
    records = [json.loads(line) for line in lines]
    run_ids = {r.run_id for r in subject.scan.runs}
    for rec in records:
        assert rec["kind"] == "sample" and rec["scan_id"] == subject.scan.scan_id and rec["run_id"] in run_ids
        for key in (
            "schema",
            "target",
            "attack",
            "framework",
            "family",
            "params",
            "seed",
            "index",
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
            "queries",
            "images",
        ):
            assert key in rec
        assert rec["queries"] == rec["forward_queries"] + rec["gradient_queries"]
    assert sorted({r["params"]["eps"] for r in records}) == [0.05, 0.3]


def test_junit_has_one_testcase_per_attack_failing_by_its_gates(subject):
    root = ET.fromstring(formats.render(subject, "junit"))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["pgd"]
    rate = sum(s.success for r in subject.scan.runs for s in r.samples) / 6
    failures = cases[0].findall("failure")
    assert bool(failures) == (rate > 0.5)
    assert suite.get("failures") == root.get("failures") == str(int(rate > 0.5))
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["target"] == "digits_keras" and props["seed"] == "0" and props["fail_on"] == GATES[-1]
    # gates given at report time replace the stored ones
    root = ET.fromstring(formats.render(subject, "junit", fail_on=["pgd.successes >= 0"]))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message").startswith("pgd.successes >= 0 (successes = ")
    assert failure.get("type") == "feint.gate"


def test_markdown_has_the_summary_the_sweep_and_the_runs(subject):
    text = formats.render(subject, "markdown")
    for heading in (
        "# feint scan report: digits_keras",
        "## Target",
        "## Gates",
        "## Summary by attack",
        "## Successes by input label",
        "## pgd: success against eps",
        "## Runs",
    ):
        assert heading in text
    assert "| 0.05 |" in text and "| 0.3 |" in text
    assert f"clean accuracy on the attacked samples**: {clean_accuracy(subject.scan.runs)['correct']}/3" in text


def test_html_is_self_contained_with_every_section(subject):
    html = formats.render(subject, "html")
    for section in (
        'id="target"',
        'id="parameters"',
        'id="gates"',
        'id="summary"',
        'id="by-label"',
        'id="robustness"',
        'id="distances"',
        'id="galleries"',
        'id="gallery-pgd"',
    ):
        assert section in html
    srcs = re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)
    assert len(srcs) == 2 + 2 * 3 * 3  # the curve, the distances, 3 images of each of 6 samples
    assert all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html and "<link" not in html
    assert "perturbation amplified &times;" in html
    assert "clean accuracy on the attacked samples" in html


def test_html_gallery_can_be_limited(subject):
    html = formats.render(subject, "html", gallery=1)
    assert len(re.findall(r'<img[^>]*\ssrc="data:', html)) == 2 + 2 * 1 * 3
    assert "showing 1 of 3" in html


def test_html_states_the_amplification_of_the_perturbation(subject):
    from feint.report.html import gallery_cards

    run = subject.scan.runs[0]
    card = gallery_cards(run, subject.scan.target_info)[0]
    assert card["scale"] == pytest.approx(0.5 / card["s"].linf)  # bounds 0..1


def test_a_missing_image_is_said_not_broken(subject, tmp_path):
    from feint.report.html import render_html

    scan = subject.scan
    gone = str(tmp_path / "gone.png")
    scan.runs[0].samples[0].images = {k: gone for k in ("original", "adversarial", "perturbation")}
    html = render_html(scan)
    assert "not stored" in html
    assert all(s.startswith("data:") for s in re.findall(r'<img[^>]*\ssrc="([^"]*)"', html))


def test_a_run_reports_on_its_own(report_store):
    store, scan_id = report_store
    run = store.get_scan(scan_id).runs[1]
    subject = formats.load(store, run.run_id)
    assert subject.kind == "run" and subject.scan.target_info["data_type"] == "image"
    assert json.loads(formats.render(subject, "json"))["run_id"] == run.run_id
    assert "feint run report" in formats.render(subject, "html")
    assert ET.fromstring(formats.render(subject, "junit")).find("testsuite/testcase").get("name") == "pgd"
    assert len(formats.render(subject, "jsonl").splitlines()) == 3


def test_tabular_reports_show_the_changed_features_and_queries(tabular_store):
    subject = formats.load(tabular_store, "tab1")
    html = formats.render(subject, "html")
    assert "<img" in html  # the plots
    assert '<td>debt</td><td class="n">3.0000</td><td class="n">3.7500</td><td class="n">+0.7500</td>' in html
    assert "<td>income</td>" in html and "<td>age</td>" not in html  # only changed features
    assert "no feature changed" in html
    assert "closed-box: predictions only" in html and "500 (500 forward, 0 gradient)" in html
    # Counterfit's % Euclidean distance, 100 * L2 / ||x||: sqrt(0.25^2 + 0.75^2) / sqrt(30) for sample 7
    assert "% Euclid. 14.43" in html
    md = formats.render(subject, "markdown")
    assert "% Euclid. dist." in md and "| 14.43 |" in md
    assert "planned, not run" in html and "other" in html
    suite = ET.fromstring(formats.render(subject, "junit")).find("testsuite")
    assert suite.get("skipped") == "1" and suite.find("testcase[@name='other']/skipped") is not None
    assert clean_accuracy(subject.scan.runs) == {"samples": 2, "correct": 1, "accuracy": 0.5}
    assert sweeps(subject.scan.runs) == {}


def test_file_names_choose_the_format(tmp_path, subject):
    assert formats.format_for("a/b.HTML") == "html" and formats.format_for("x.xml") == "junit"
    assert formats.format_for("x.md") == "markdown" and formats.format_for("x.jsonl") == "jsonl"
    with pytest.raises(Exception, match="cannot tell the report format of 'x.txt' from its extension"):
        formats.format_for("x.txt")
    path = formats.write(subject, tmp_path / "deep" / "r.json")
    assert json.loads(path.read_text())["scan_id"] == subject.scan.scan_id


def test_unknown_ids_and_formats_are_refused(report_store, subject):
    store, _ = report_store
    with pytest.raises(Exception, match="no stored run or scan with id 'nope'; recent: "):
        formats.load(store, "nope")
    with pytest.raises(Exception, match="unknown report format 'pdf'"):
        formats.render(subject, "pdf")
