"""feint evaluate: robust accuracy per budget from an ensemble run in turn on the samples
still standing, stored as a scan whose figures recompute from its stored runs; it resumes
after an interruption to what an uninterrupted evaluation gives, and its gates gate."""

import json

import pytest

from feint import api
from feint.cli.app import main
from feint.report.robustness import evaluation_summary, gate_summary
from feint.store.db import Store

SAMPLES = "0:8"


def _evaluate(target, store, **kw):
    return api.evaluate(target, eps=kw.pop("eps", [0.05, 0.3]), version="fast", samples=SAMPLES, store=store, **kw)


def test_robust_accuracy_falls_with_the_budget_and_recomputes_from_the_runs(digits_keras, tmp_path):
    store = Store(tmp_path / "feint.db")
    scan = _evaluate(digits_keras, store)
    ev = evaluation_summary(scan)
    assert ev["complete"] and scan.settings["status"] == "done"
    small, large = ev["budgets"]
    assert small["eps"] == 0.05 and large["eps"] == 0.3
    assert large["robust_accuracy"] <= small["robust_accuracy"] <= ev["clean_accuracy"]
    assert large["robust_accuracy"] < ev["clean_accuracy"]  # at 0.3 this CNN is broken
    # Each stage attacked exactly the samples the ones before it left, within its budget.
    correct = set(scan.settings["clean"]["correct"])
    standing = set(correct)
    for run in scan.runs:
        assert {s.index for s in run.samples} == standing
        assert all(s.linf <= run.metrics["eps"] for s in run.samples)
        assert all(s.initial_label == s.true_label for s in run.samples)
        standing -= {s.index for s in run.samples if s.success}
    assert large["robust"] == len(standing)
    n = scan.settings["clean"]["samples"]
    assert gate_summary(scan)["eps=0.3"]["robust_accuracy"] == pytest.approx(len(standing) / n)
    # Which attack broke each sample, per budget: a sample turned at 0.05 is broken at 0.3 too.
    for row in ev["per_sample"]:
        if row["broken_by"]["0.05"] not in (None, "misclassified"):
            assert row["broken_by"]["0.3"] == row["broken_by"]["0.05"]


def test_an_interrupted_evaluation_resumes_to_the_same_figures(digits_keras, tmp_path):
    whole = _evaluate(digits_keras, Store(tmp_path / "a.db"))
    store = Store(tmp_path / "b.db")

    def stop(stage, eps, attacked, turned):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _evaluate(digits_keras, store, on_stage=stop)
    stopped = store.get_scan(store.recent_ids()[0])
    assert stopped.settings["status"] == "interrupted" and len(stopped.runs) == 1
    seen = []
    again = _evaluate(digits_keras, store, on_resume=seen.append)
    assert seen == [stopped.scan_id] and again.scan_id == stopped.scan_id
    assert evaluation_summary(again)["budgets"] == evaluation_summary(whole)["budgets"]
    assert [r.run_id for r in again.runs][:1] == [stopped.runs[0].run_id]  # the first stage was not run again


def test_a_closed_box_target_is_evaluated_by_square(digits_blackbox, tmp_path):
    scan = api.evaluate(digits_blackbox, eps=0.3, version="standard", samples="0:6", store=Store(tmp_path / "f.db"))
    assert [s["name"] for s in scan.settings["ensemble"]] == ["square"]
    assert scan.settings["skipped"] == ["apgd-ce", "apgd-t", "fab-t"]
    assert all(r.gradient_queries == 0 for r in scan.runs)


def test_cli_gates_and_reports(capsys, fresh_home, tmp_path):
    report = tmp_path / "ev.json"
    argv = ["evaluate", "digits_keras", "--eps", "0.3", "--version", "fast", "-i", "0:5"]
    code = main([*argv, "--fail-on", "robust_accuracy < 0.5", "--report", str(report), "--json"])
    out, _ = capsys.readouterr()
    assert code == 1
    doc = json.loads(out)
    assert doc["evaluation"]["budgets"][0]["robust_accuracy"] < 0.5
    assert doc["gates"][0]["failed"] and doc["gates"][0]["attacks"] == ["eps=0.3"]
    assert json.loads(report.read_text())["evaluation"] == doc["evaluation"]
    # The same settings again: the stored evaluation is complete, so a new one runs and passes a looser gate.
    assert main([*argv, "--fail-on", "robust_accuracy < 0"]) == 0
    out, _ = capsys.readouterr()
    assert "Robust accuracy" in out and "eps 0.3" in out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--eps", "0"], "--eps expects numbers above 0"),
        (["--version", "huge"], "--version expects one of standard, fast"),
        (["--norm", "3"], "--norm expects inf or 2"),
        (["--fail-on", "pgd.success_rate > 0"], "an evaluation's gates read robust_accuracy"),
        (["--fail-on", "robust_accuracy <"], "bad --fail-on expression"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, fresh_home, extra, message):
    assert main(["evaluate", "digits_keras", "-i", "0:2", *extra]) == 2
    _, err = capsys.readouterr()
    assert message in err and len(err.strip().splitlines()) == 1
    assert not Store().recent_ids()


def test_reports_show_checks_and_robust_accuracy_first(digits_keras, tmp_path):
    from feint.report.formats import Subject, render

    scan = api.evaluate(digits_keras, eps=[0.3], version="fast", samples="0:3", store=Store(tmp_path / "r.db"))
    md = render(Subject("scan", scan), "markdown")
    assert md.index("## Sanity checks") < md.index("## Robust accuracy") < md.index("## Target")
    html = render(Subject("scan", scan), "html")
    assert html.index('id="checks"') < html.index('id="evaluation"') < html.index('id="target"')
    assert 'id="accuracy-curve"' in html


def test_an_fmn_run_report_draws_its_curve(digits_keras, tmp_path):
    from feint.report.formats import render

    store = Store(tmp_path / "c.db")
    run = api.run(digits_keras, api.new_attack("fmn", {"steps": 10, "sample_index": "0:3"}), store=store)
    from feint.report.formats import load

    html = render(load(store, run.run_id), "html")
    assert 'id="accuracy-curve"' in html
