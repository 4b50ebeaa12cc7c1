"""Closed-box trajectories and stopping rules: what each query reached, recorded for any
closed-box attack, and max_queries / target_distance held, counted at the model itself."""

import json

import numpy as np
import pytest
import torch

from feint.attacks.catalog import get_attack
from feint.attacks.trajectory import Tracker
from feint.engine.run import execute_run
from feint.errors import BadValue
from feint.store import trajectories


def _brute(x0, calls, labels, linf=False):
    """Per sample, (query, best distance) at each new best, the slow way."""
    n = len(x0)
    spent = [0] * n
    best = [np.inf] * n
    events = []
    for flat, pred, owners in calls:
        for row, (p, o) in enumerate(zip(pred.tolist(), owners.tolist())):
            spent[o] += 1
            if p == labels[o]:
                continue
            d = flat[row].double() - x0[o].reshape(-1).double()
            dist = float(d.abs().max() if linf else d.norm())
            if dist < best[o]:
                best[o] = dist
                events.append((o, spent[o] + 1, dist))
    return sorted(events)


@pytest.mark.parametrize("linf", [False, True])
def test_the_tracker_keeps_each_new_best_in_query_order(linf):
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand((5, 3, 4), generator=gen)
    labels = torch.zeros(5, dtype=torch.long)
    tracker = Tracker(x0, lambda pred, rows: pred != labels[rows], norm="inf" if linf else "2")
    calls = []
    for i in range(30):
        if i % 3:  # rows of any samples, repeated, in any order
            owners = torch.randint(0, 5, (int(torch.randint(1, 40, (1,), generator=gen)),), generator=gen)
        else:  # one row for each of some samples, in order (an attack's step), or none
            owners = torch.nonzero(torch.rand(5, generator=gen) < 0.7).flatten()
        m = len(owners)
        flat = torch.rand((m, 12), generator=gen)
        pred = (torch.rand(m, generator=gen) < 0.4).long()
        calls.append((flat, pred, owners))
        tracker.observe(flat, pred, owners)
    who, query, dist = tracker.events()
    got = sorted(zip(who.tolist(), query.tolist(), dist.tolist()))
    want = _brute(x0, calls, labels.tolist(), linf)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2] for g in got], [w[2] for w in want], rtol=1e-12)
    assert tracker.spent.sum() == sum(len(c[2]) for c in calls)


def test_admission_keeps_each_sample_within_its_rows_in_call_order():
    x0 = torch.zeros((3, 2))
    tracker = Tracker(x0, lambda pred, rows: pred != 0, max_rows=4)
    owners = torch.tensor([0, 1, 0, 0, 2, 0, 0, 1])
    allowed = tracker.admit(owners)
    assert allowed.tolist() == [True, True, True, True, True, True, False, True]
    tracker.observe(torch.zeros((7, 2)), torch.zeros(7, dtype=torch.long), owners[allowed])
    assert tracker.left().tolist() == [0, 2, 3] and tracker.stopped.tolist() == [True, False, False]


class _Counting:
    """Counts, per sample attacked alone, every row its target's predict is asked."""

    def __init__(self, target, monkeypatch):
        self.rows = 0
        predict = type(target).predict

        def counted(this, x):
            self.rows += len(x)
            return predict(this, x)

        monkeypatch.setattr(type(target), "predict", counted)


CAPPED = {
    "hop_skip_jump": {},
    "geoda": {},
    "rays": {},
    "art.hop_skip_jump": {},
    "art.boundary": {},
    "art.simba": {},
}


@pytest.mark.parametrize("name", sorted(CAPPED))
def test_max_queries_is_never_exceeded_counting_rows_at_the_model(name, digits_blackbox, monkeypatch, tmp_path):
    """Each sample alone: the rows its target's predict saw, first and last predictions
    included, are at most max_queries; the result is adversarial where it moved."""
    cap = 150
    counter = _Counting(digits_blackbox, monkeypatch)
    for index in (0, 1):
        counter.rows = 0
        run = execute_run(
            digits_blackbox, get_attack(name)(sample_index=str(index), max_queries=cap, **CAPPED[name]), tmp_path
        )
        (s,) = run.samples
        assert counter.rows <= cap and s.forward_queries == counter.rows, (name, counter.rows)
        if not name.startswith("art.") or "hop_skip_jump" in name:  # minimising attacks spend the budget
            assert counter.rows >= cap - 20
        if s.l2 > 0:
            assert s.success
        arrays = trajectories.load(run.artifacts)
        assert arrays is not None and int(arrays["queries"][0]) == counter.rows
        assert arrays["event_query"].max(initial=0) <= cap


def test_a_cap_of_two_or_less_is_refused_in_one_line(digits_blackbox):
    with pytest.raises(BadValue, match="'max_queries' expects 0 \\(no cap\\) or more than 2"):
        execute_run(digits_blackbox, get_attack("hop_skip_jump")(max_queries=2))


@pytest.mark.parametrize("name,options", [("hop_skip_jump", {"max_iter": 20}), ("art.hop_skip_jump", {"max_iter": 5})])
def test_target_distance_stops_a_sample_once_close_enough(name, options, digits_blackbox, tmp_path):
    kw = dict(sample_index="0:4", **options)
    free = execute_run(digits_blackbox, get_attack(name)(**kw), tmp_path)
    goal = 2.5
    near = execute_run(digits_blackbox, get_attack(name)(target_distance=goal, **kw), tmp_path)
    x_adv = np.load(f"{near.artifacts}/adversarial.npz")
    d = np.linalg.norm((x_adv["x_adv"] - x_adv["x"]).reshape(4, -1).astype(np.float64), axis=1)
    for s, f, dist in zip(near.samples, free.samples, d):
        assert s.success == (s.final_label != s.initial_label and dist <= goal)
        assert s.l2 == pytest.approx(dist)
        if s.success:
            assert s.forward_queries < f.forward_queries  # it stopped early
        elif s.final_label != s.initial_label:
            assert "beyond target_distance 2.5" in (s.note or "")
    assert near.successes >= 2


def test_the_trajectory_ends_at_each_samples_result(digits_blackbox, tmp_path):
    run = execute_run(digits_blackbox, get_attack("hop_skip_jump")(sample_index="0:5", max_iter=8), tmp_path)
    arrays = trajectories.load(run.artifacts)
    assert arrays is not None and list(arrays["indices"]) == list(range(5))
    assert [int(q) for q in arrays["queries"]] == [s.forward_queries for s in run.samples]
    final = trajectories.at_budget(arrays)
    np.testing.assert_allclose(final, [s.l2 for s in run.samples], rtol=1e-6)
    # The best distance only falls as queries are spent.
    curve = trajectories.query_curve(arrays)
    medians = [p["median"] for p in curve["budgets"] if p["median"] is not None]
    assert medians == sorted(medians, reverse=True) and curve["last"]["queries"] == max(arrays["queries"])
    assert curve["last"]["median"] == pytest.approx(float(np.median(final)))
    assert [p["queries"] for p in curve["budgets"]] == list(trajectories.BUDGETS)


def test_open_box_attacks_keep_no_trajectory(digits_keras, tmp_path):
    run = execute_run(digits_keras, get_attack("pgd")(sample_index="0:2", max_iter=2), tmp_path)
    assert trajectories.load(run.artifacts) is None
    assert "max_queries" not in get_attack("pgd").params


def test_show_json_and_html_give_the_median_distance_at_each_budget(capsys, fresh_home):
    from feint.cli.app import main

    argv = ["scan", "digits_blackbox", "-a", "hop_skip_jump", "art.hop_skip_jump", "-i", "0:3"]
    assert main([*argv, "--set", "max_queries=400", "--set", "max_iter=4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    runs = {r["attack"]: r for r in doc["runs"]}
    for run in runs.values():
        curve = run["query_curve"]
        assert curve["norm"] == "l2" and curve["samples"] == 3
        assert [p["queries"] for p in curve["budgets"]] == list(trajectories.BUDGETS)
        assert curve["last"]["queries"] == max(s["forward_queries"] for s in run["samples"]) <= 400
        # Recomputed from the stored arrays, and the run's own results at its last query.
        arrays = trajectories.load(run["artifacts"])
        at_250 = trajectories.at_budget(arrays, 250)
        assert curve["budgets"][1]["median"] == pytest.approx(float(np.median(at_250)))
        turned = [s["l2"] for s in run["samples"] if s["success"]]
        if len(turned) == 3:
            assert curve["last"]["median"] == pytest.approx(float(np.median(turned)))
    hsj = runs["hop_skip_jump"]["run_id"]
    assert main(["show", hsj]) == 0
    out = capsys.readouterr().out
    assert "Median distance against queries" in out and "Last query" in out
    assert main(["show", doc["scan_id"]]) == 0
    out = capsys.readouterr().out
    assert hsj in out and runs["art.hop_skip_jump"]["run_id"] in out and "10,000" in out
    html = fresh_home / "r.html"
    assert main(["report", doc["scan_id"], "-o", str(html)]) == 0
    text = html.read_text()
    assert 'id="queries"' in text and 'alt="median distance against queries' in text
    assert f"<code>{hsj}</code>" in text
    assert main(["report", doc["scan_id"], "-f", "markdown"]) == 0
    assert "## Median distance against queries per sample" in capsys.readouterr().out
    # An open-box run has no curve.
    assert main(["run", "digits_keras", "pgd", "-i", "0", "--set", "max_iter=2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["query_curve"] is None


def test_a_scan_cut_into_units_keeps_one_trajectory_per_unit_read_as_one(capsys, fresh_home):
    from feint.cli.app import main

    argv = ["scan", "digits_blackbox", "-a", "geoda", "-i", "0:5", "--chunk-size", "2", "--set", "max_queries=200"]
    assert main([*argv, "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    arrays = trajectories.load(run["artifacts"])
    assert list(arrays["indices"]) == [s["index"] for s in run["samples"]] == [0, 1, 2, 3, 4]
    assert [int(q) for q in arrays["queries"]] == [s["forward_queries"] for s in run["samples"]]
    np.testing.assert_allclose(trajectories.at_budget(arrays), [s["l2"] for s in run["samples"]], rtol=1e-6)
    assert run["query_curve"]["samples"] == 5 and run["query_curve"]["last"]["queries"] <= 200


def test_target_distance_is_in_the_attacks_norm(digits_blackbox, tmp_path):
    """RayS minimises Linf: its target distance is a Linf distance, and so is its curve."""
    rays = get_attack("rays")(sample_index="0:3", target_distance=0.1, max_queries=1200)
    run = execute_run(digits_blackbox, rays, tmp_path)
    arrays = np.load(f"{run.artifacts}/adversarial.npz")
    linf = np.abs(arrays["x_adv"] - arrays["x"]).reshape(3, -1).max(axis=1)
    for s, d in zip(run.samples, linf):
        assert s.success == (s.final_label != s.initial_label and d <= 0.1)
        if s.success:
            assert s.forward_queries < 1000  # it stopped once close enough
    assert run.successes >= 2
    assert trajectories.query_curve(trajectories.load(run.artifacts))["norm"] == "linf"
