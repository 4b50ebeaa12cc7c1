"""One registry shape for the extension points: the command line's choices and help come
from the registries, and a new entry is one registration away from working end to end."""

import argparse
import json

import pytest

from feint.cli.commands import build_parser
from feint.engine.executors import EXECUTORS, ExecutorKind, LocalExecutor, make_executor
from feint.errors import UnknownName
from feint.registry import Registry
from feint.report import formats


def _choices(parser: argparse.ArgumentParser, command: str, flag: str) -> list[str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return list(next(a for a in sub._actions if flag in a.option_strings).choices)


def test_command_line_choices_are_the_registries():
    parser = build_parser()
    assert _choices(parser, "report", "--format") == formats.FORMATS.names()
    assert _choices(parser, "scan", "--executor") == EXECUTORS.names() == ["auto", "local", "process", "ray"]


def test_an_unknown_name_lists_the_accepted_ones():
    with pytest.raises(UnknownName, match=r"unknown report format 'pdf'; accepted: html, json, jsonl, junit, markdown"):
        formats.FORMATS.get("pdf")
    registry = Registry[int]("thing")
    registry.register("one", 1)
    with pytest.raises(ValueError, match="registered already"):
        registry.register("one", 2)


def render_csv(subject, fail_on, **options):
    """A report format as a newcomer would add it: this function and one registration."""
    lines = ["run_id,attack,index,success"]
    for run in subject.scan.runs:
        lines += [f"{run.run_id},{run.attack},{s.index},{int(s.success)}" for s in run.samples]
    return "\n".join(lines) + "\n"


def test_a_registered_report_format_works_from_the_command_line(report_store, monkeypatch, tmp_path, capsys):
    store, scan_id = report_store
    entry = formats.ReportFormat((".csv",), "comma-separated samples", f"{__name__}:render_csv")
    monkeypatch.setitem(formats.FORMATS._entries, "csv", entry)
    monkeypatch.setenv("FEINT_HOME", str(store.path.parent))
    from feint.cli.app import main

    out = tmp_path / "samples.csv"
    assert main(["report", scan_id, "-o", str(out)]) == 0, capsys.readouterr().err
    rows = out.read_text().splitlines()
    scan = store.get_scan(scan_id)
    assert rows[0] == "run_id,attack,index,success" and len(rows) == 1 + sum(r.n for r in scan.runs)
    assert main(["report", scan_id, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "run_id,attack,index,success"


def test_a_registered_executor_runs_a_scan(digits_keras, monkeypatch, tmp_path):
    from feint import Store, execute_scan, plan_scan

    built = []

    def build(target, workers, address):
        built.append(target.target_name)
        return LocalExecutor(target)

    monkeypatch.setitem(
        EXECUTORS._entries, "inline", ExecutorKind("this process, for a test", lambda t, w: None, build)
    )
    assert isinstance(make_executor("inline", digits_keras), LocalExecutor)
    plan = plan_scan(digits_keras, ["pgd"], {"pgd": {"max_iter": 2}}, {"sample_index": "0:2"})
    scan = execute_scan(digits_keras, plan, Store(tmp_path / "feint.db"), executor="inline")
    assert scan.settings["status"] == "done" and scan.runs[0].n == 2 and built == ["digits_keras"] * 2


def _nudge():
    """A framework's attacks as a newcomer would write them."""
    import torch

    from feint.attacks.base import CLOSED_BOX, Attack, AttackOutput
    from feint.attacks.params import Float

    class NudgeAttack(Attack):
        """Nudge: add a constant to every feature, a framework's one attack in a test."""

        name = "toy.nudge"
        framework = "toy"
        access = CLOSED_BOX
        step = Float(0.5, "what is added to every feature", low=0)

        def generate(self, model, batch, p):
            return AttackOutput(x_adv=batch.x + torch.full_like(batch.x, self.step))

    return [NudgeAttack]


def test_a_registered_framework_lists_and_runs_its_attacks(digits_keras, monkeypatch, capsys, fresh_home):
    import sys
    import types

    from feint.attacks import catalog
    from feint.cli.app import main

    module = types.ModuleType("toy_framework")
    module.ATTACKS = _nudge()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "toy_framework", module)
    monkeypatch.setitem(catalog.FRAMEWORKS._entries, "toy", catalog.Framework("toy_framework", "a test's framework"))
    monkeypatch.setattr(catalog, "_cache", {})
    assert main(["list", "frameworks", "--json"]) == 0
    assert {"name": "toy", "description": "a test's framework", "attacks": 1} in json.loads(capsys.readouterr().out)[
        "frameworks"
    ]
    assert catalog.get_attack("nudge") is catalog.get_attack("toy.nudge")  # a plain name finds it
    assert main(["run", "digits_keras", "toy.nudge", "-i", "0:3", "--set", "step=1", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["attack"] == "toy.nudge" and run["params"]["step"] == 1 and len(run["samples"]) == 3
    assert all(s["linf"] == 1.0 for s in run["samples"])  # clipped to the bounds [0, 1]: every pixel moved to 1
