"""feint optimize: Optuna's search within each option's declared range, seeded, pruned,
over every chosen attack; it improves on the defaults, resumes after an interruption, and
a later run takes its best options by the study's id."""

import json

import pytest

from feint import api
from feint.attacks.catalog import get_attack
from feint.cli.app import main
from feint.store.db import Store

FIXED = {"pgd": {"max_iter": 10}, "apgd": {"max_iter": 5}}


def _optimize(target, store, **kw):
    return api.optimize(
        target,
        kw.pop("attacks", ["pgd"]),
        trials=kw.pop("trials", 6),
        objective="distance",
        samples="0:6",
        fixed=FIXED,
        store=store,
        **kw,
    )


def test_improves_on_the_defaults_within_the_declared_ranges(digits_keras, tmp_path):
    summary = _optimize(digits_keras, Store(tmp_path / "feint.db"), attacks=["pgd", "apgd"])
    assert set(summary["attacks"]) == {"pgd", "apgd"}  # every chosen attack, each its own study
    pgd = summary["attacks"]["pgd"]
    assert pgd["trials_done"] == 6 and pgd["defaults_value"] is not None
    assert pgd["best_value"] < pgd["defaults_value"]  # a smaller mean distance than the defaults give
    assert pgd["best_params"]["max_iter"] == 10  # fixed values stay fixed
    for attack, study in summary["attacks"].items():
        cls = get_attack(attack)
        for trial in study["trials"]:
            for name, value in trial["params"].items():
                assert cls.params[name].validate(value) == value  # inside the option's own range
            assert "eps" not in trial["params"] and "norm" not in trial["params"]  # the budget is not searched


def test_same_seed_same_study(digits_keras, tmp_path):
    a = _optimize(digits_keras, Store(tmp_path / "a.db"), trials=4)["attacks"]["pgd"]["trials"]
    b = _optimize(digits_keras, Store(tmp_path / "b.db"), trials=4)["attacks"]["pgd"]["trials"]
    assert [t["params"] for t in a] == [t["params"] for t in b]


def test_resumes_after_an_interruption(digits_keras, tmp_path):
    store = Store(tmp_path / "feint.db")
    seen = []

    def stop_at_three(attack, number, value, state):
        seen.append(number)
        if number == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _optimize(digits_keras, store, on_trial=stop_at_three)
    study_id = _last_study(store)
    before = api.study(study_id, store=store)["attacks"]["pgd"]
    assert before["trials_done"] == 3
    done = api.optimize(digits_keras, [], resume=study_id, store=store)["attacks"]["pgd"]
    assert done["trials_done"] == 6
    assert [t["params"] for t in done["trials"][:3]] == [t["params"] for t in before["trials"][:3]]


def test_a_trial_whose_process_was_killed_is_failed_not_running(digits_keras, tmp_path, monkeypatch):
    import time

    import optuna

    from feint.engine import optimize

    monkeypatch.setattr(optimize, "GRACE_S", 1)
    store = Store(tmp_path / "feint.db")
    study_id = _optimize(digits_keras, store, trials=1)["study_id"]
    storage = optimize._storage(optimize.storage_path(store.path))
    study = optuna.load_study(study_name=f"{study_id}:pgd", storage=storage)
    trial = study.ask()  # what a killed `feint optimize` leaves: a trial that stopped beating
    storage.record_heartbeat(trial._trial_id)
    time.sleep(2.2)  # SQLite keeps the heartbeat to the second
    states = [t["state"] for t in api.study(study_id, store=store)["attacks"]["pgd"]["trials"]]
    assert states == ["complete", "fail"]


def _last_study(store):
    import optuna

    storage = optuna.storages.RDBStorage(f"sqlite:///{store.path.with_name('optuna.db')}")
    return optuna.get_all_study_summaries(storage)[-1].study_name.split(":")[0]


def test_a_later_run_takes_the_best_options(capsys, fresh_home):
    assert main(["optimize", "digits_keras", "pgd", "--trials", "3", "-i", "0:4", "--set", "max_iter=5", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    best = summary["attacks"]["pgd"]["best_params"]
    assert main(["run", "digits_keras", "pgd", "-i", "0:2", "--from-study", summary["study_id"], "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert all(run["params"][k] == v for k, v in best.items())
    assert main(["scan", "digits_keras", "-a", "pgd", "-i", "0:2", "--from-study", summary["study_id"], "--json"]) == 0
    scan = json.loads(capsys.readouterr().out)
    assert all(scan["runs"][0]["params"][k] == v for k, v in best.items())
    assert main(["optimize", "digits_keras", "pgd", "--objective", "speed"]) == 2
    assert "--objective expects one of success, distance, queries, score" in capsys.readouterr().err


def test_shell_set_optimize_sets_the_best_options(capsys, fresh_home):
    script = "interact digits_keras; use pgd; set sample_index 0:3; set --optimize --trials 2 --set max_iter=3"
    assert main(["shell", "-c", script]) == 0
    out = capsys.readouterr().out
    assert "Best options per attack" in out and "max_iter*" in out
