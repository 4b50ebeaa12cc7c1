"""``feint scan TARGET --suite corruptions``: every corruption at severities 1 to 5, stored as
a scan whose summary is accuracy per corruption and severity, its mean and the worst,
reported in every format and gateable."""

from __future__ import annotations

import json

import pytest

from feint import api
from feint.attacks.transforms.suite import SUITES
from feint.cli.app import main
from feint.errors import FeintError
from feint.report.summary import corruptions
from feint.store.db import Store


def test_the_command_lines_suites_are_the_registrys():
    from feint.cli.commands import build_parser

    parser = build_parser()
    scan = next(a for a in parser._subparsers._group_actions[0].choices["scan"]._actions if a.dest == "suite")
    assert list(scan.choices) == SUITES.names()


def test_a_suite_scan_is_accuracy_per_corruption_and_severity(digits_blackbox, tmp_path):
    store = Store(tmp_path / "feint.db")
    scan = api.scan(
        digits_blackbox,
        ["gaussian_noise", "transforms.contrast"],
        suite="corruptions",
        common={"sample_index": "0:6"},
        store=store,
    )
    assert {r.attack for r in scan.runs} == {"transforms.gaussian_noise", "transforms.contrast"}
    assert sorted(r.params["severity"] for r in scan.runs if r.attack == "transforms.contrast") == [1, 2, 3, 4, 5]
    summary = corruptions(store.get_scan(scan.scan_id))
    assert summary is not None and summary["judged_by"] == "true labels"
    assert set(summary["families"]) == {"gaussian_noise", "contrast"}
    for f in summary["families"].values():
        for level, cell in f["severities"].items():
            (run,) = [r for r in scan.runs if r.attack == f["attack"] and r.params["severity"] == level]
            right = sum(s.final_label == s.true_label for s in run.samples)
            assert (cell["correct"], cell["samples"]) == (right, 6)  # recomputed from the stored samples
            assert all(
                s.measures["strength"] == pytest.approx(run.samples[0].measures["strength"]) for s in run.samples
            )
        assert f["mean"] == pytest.approx(sum(c["accuracy"] for c in f["severities"].values()) / 5)
    means = {k: f["mean"] for k, f in summary["families"].items()}
    assert summary["worst"] == min(means, key=means.get)
    assert summary["mean"] == pytest.approx(sum(means.values()) / 2)
    contrast = summary["families"]["contrast"]["severities"]
    assert contrast[5]["accuracy"] <= contrast[1]["accuracy"]  # stronger corruption, no better


def test_a_suite_from_the_command_line_reports_and_gates(fresh_home, capsys, tmp_path):
    html, md = tmp_path / "c.html", tmp_path / "c.md"
    args = ["scan", "digits_blackbox", "--suite", "corruptions", "-a", "rotate", "impulse_noise", "-i", "0:8"]
    code = main(
        [*args, "--report", str(html), "--report", str(md), "--fail-on", "transforms.rotate.success_rate > 0.99"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "Accuracy under corruption (judged by true labels)" in out and "worst corruption" in out
    page = html.read_text()
    assert 'alt="accuracy against severity, one line per corruption"' in page and "impulse_noise" in page
    assert "## Accuracy under corruption" in md.read_text()
    assert main([*args, "--json", "--fail-on", "transforms.rotate.success_rate >= 0"]) == 1  # the gate holds: exit 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["corruptions"]["families"]) == {"rotate", "impulse_noise"}
    assert doc["gates"][0]["failed"] and doc["gates"][0]["attacks"] == ["transforms.rotate"]


def test_a_suite_on_a_tabular_target_is_one_line(fresh_home, capsys):
    assert main(["scan", "creditfraud", "--suite", "corruptions", "-i", "0:2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no transformation applies to tabular samples" in err


def test_a_suite_refuses_what_it_does_not_hold(digits_blackbox, tmp_path):
    with pytest.raises(FeintError, match="'pgd' is not in suite corruptions; its families: gaussian_blur"):
        api.scan(digits_blackbox, ["pgd"], suite="corruptions", store=Store(tmp_path / "f.db"))
    with pytest.raises(FeintError, match="leave out"):
        api.scan(digits_blackbox, suite="corruptions", sweep={"sigma": [1, 2]}, store=Store(tmp_path / "f.db"))


def test_a_suite_without_samples_named_runs_on_the_first_hundred(digits_blackbox, tmp_path):
    scan = api.scan(digits_blackbox, ["rotate"], suite="corruptions", store=Store(tmp_path / "f.db"))
    assert [r.n for r in scan.runs] == [100] * 5
    assert [s.index for s in scan.runs[0].samples] == list(range(100))
