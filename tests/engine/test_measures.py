"""Per-sample measures are declared and computed once by the run: a tabular target has the %
Euclidean distance, the Wasserstein attack its transport cost, and a target class that
declares a measure of its own (one registration, as a newcomer adds one) has it stored and
shown by every report."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
import torch

from feint.engine.run import execute_run
from feint.errors import UnknownName
from feint.measures import MEASURES, of_run, shown
from feint.records import Measure, SampleResult, ScanResult
from feint.store.db import Store
from feint.targets.base import Target


def max_rel(x, x_adv):
    """The largest change of a feature relative to the feature's own size."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    d = np.asarray(x_adv, np.float64).reshape(len(x), -1) - x
    return (np.abs(d) / (np.abs(x) + 1.0)).max(axis=1)


MAX_REL = Measure("max_rel", "Max rel. chg.", "the largest relative change of a feature", fmt=".3f", compute=max_rel)


@pytest.fixture()
def registered(monkeypatch):
    """MAX_REL in the registry for one test."""
    monkeypatch.setitem(MEASURES._entries, MAX_REL.name, MAX_REL)
    return MAX_REL


class Rows(Target):
    """Four features, open-box: class 1 when they sum above 0."""

    target_name = "rows"
    data_type = "tabular"
    input_shape = (4,)
    output_classes = ("low", "high")
    bounds = (-5.0, 5.0)
    measures = ("max_rel",)

    def load(self):
        self.X = np.array([[1, 1, 0.5, 0.25], [-1, -0.5, 0, 0], [0.5, 0.25, 0, 0]], np.float32)

    def torch_module(self):
        lin = torch.nn.Linear(4, 2)
        with torch.no_grad():
            lin.weight[:] = torch.tensor([[-1.0] * 4, [1.0] * 4])
            lin.bias.zero_()
        return lin


class Pixels(Target):
    """A 1 x 6 x 6 image, open-box: class 1 when the left half is the brighter."""

    target_name = "pixels"
    data_type = "image"
    input_shape = (1, 6, 6)
    output_classes = ("right", "left")

    def load(self):
        rng = np.random.default_rng(0)
        self.X = rng.uniform(0.2, 0.8, size=(3, 1, 6, 6)).astype(np.float32)

    def torch_module(self):
        class Halves(torch.nn.Module):
            def forward(self, x):
                left, right = x[..., :3].mean(dim=(1, 2, 3)), x[..., 3:].mean(dim=(1, 2, 3))
                return torch.stack([right - left, left - right], dim=1) * 20

        return Halves()


def _pgd(**values):
    from feint.attacks.native.pgd import PGD

    return PGD(sample_index="0:3", max_iter=3, eps=1.0, **values)


def test_a_target_s_own_measure_is_computed_stored_and_shown(registered, tmp_path):
    from rich.console import Console

    from feint.report.console import print_run
    from feint.report.markdown import render_markdown

    target = Rows().ensure_loaded()
    assert [m.name for m in of_run(target.data_type, (), target.measures)] == ["euclid_pct", "max_rel"]
    run = execute_run(target, _pgd(), artifacts_root=tmp_path / "artifacts")
    with np.load(tmp_path / "artifacts" / run.run_id / "adversarial.npz") as f:
        x, x_adv = f["x"], f["x_adv"]
    assert [s.measures["max_rel"] for s in run.samples] == max_rel(x, x_adv).tolist()
    assert all(set(s.measures) == {"euclid_pct", "max_rel"} for s in run.samples)
    assert run.samples[0].to_dict()["max_rel"] == run.samples[0].measures["max_rel"]

    store = Store(tmp_path / "feint.db")
    store.add_run(run)
    back = Store(tmp_path / "feint.db").get_run(run.run_id)
    assert [s.measures for s in back.samples] == [s.measures for s in run.samples]
    assert [m.name for m in shown(back.samples)] == ["euclid_pct", "max_rel"]

    out = StringIO()
    print_run(Console(file=out, width=240), back)
    header = next(line for line in out.getvalue().splitlines() if "Sample" in line)
    assert header.index("% Euclid. dist.") < header.index("Linf") < header.index("Max rel. chg.")
    assert f"{back.samples[0].measures['max_rel']:.3f}" in out.getvalue()
    md = render_markdown(ScanResult(run.run_id, "rows", run.started_at, [back]), [], kind="run")
    assert "| L0 | % Euclid. dist. | Max rel. chg. |" in md


def test_a_stored_measure_this_feint_does_not_know_is_shown_by_its_name(tmp_path):
    s = SampleResult(0, "a", 0.9, "b", 0.6, True, 0.1, 0.2, 1, 3, 0, measures={"stroke_count": 2.0})
    assert [(m.label, m.show(2.0)) for m in shown([s])] == [("stroke_count", "2")]
    assert s.to_dict()["stroke_count"] == 2.0


def test_the_wasserstein_attack_reports_its_cost_and_an_image_target_has_no_euclid_pct():
    from feint.attacks.native.wasserstein import Wasserstein

    target = Pixels().ensure_loaded()
    run = execute_run(target, Wasserstein(sample_index="0:2", max_iter=2))
    assert all(set(s.measures) == {"wasserstein"} and s.wasserstein is not None for s in run.samples)
    assert all(s.euclid_pct is None for s in run.samples)
    assert all(s.measures == {} for s in execute_run(target, _pgd()).samples)


def test_an_unknown_declared_measure_fails_before_any_query(tmp_path):
    class Odd(Rows):
        measures = ("no_such_measure",)

    target = Odd().ensure_loaded()
    calls = []
    target.predict = lambda x: calls.append(len(x)) or Rows.predict(target, x)  # type: ignore[method-assign]
    with pytest.raises(UnknownName, match="unknown measure 'no_such_measure'; accepted: euclid_pct, wasserstein"):
        execute_run(target, _pgd())
    assert calls == []


def test_measure_names_are_identifiers_apart_from_a_sample_s_own_keys():
    from feint.records import RunResult
    from feint.report.jsonout import jsonl_records

    s = SampleResult(0, "a", 0.9, "b", 0.6, True, 0.1, 0.2, 1, 3, 0)
    run = RunResult("r", "pgd", "native", "rows", {}, 0, "2026-01-01T00:00:00+00:00", 1.0, [s])
    record = next(jsonl_records([run]))  # every key a sample's JSON Lines record has besides its measures
    for bad in (*record, "two words"):
        with pytest.raises(ValueError, match="expected an identifier that is not a sample result's own key"):
            Measure(bad, "x", "")
    assert Measure("fine", "Fine", "").short == "Fine"
