"""Summaries from stored runs: sweeps found from parameters, clean accuracy, distances."""

from feint.records import RunResult, SampleResult
from feint.report.summary import RUN_PARAMS, by_attack, clean_accuracy, sweeps


def _run(run_id, attack, params, outcomes):
    samples = [
        SampleResult(
            index=i,
            initial_label="1",
            initial_conf=0.9,
            final_label="2" if ok else "1",
            final_conf=0.7,
            success=ok,
            linf=0.1 * (i + 1),
            l2=1.0,
            l0=3,
            forward_queries=4,
            gradient_queries=2,
            true_label="1" if i else "3",
        )
        for i, ok in enumerate(outcomes)
    ]
    return RunResult(
        run_id=run_id,
        attack=attack,
        framework="native",
        target="t",
        params={**params, "sample_index": "0:2", "seed": "0"},
        seed=0,
        started_at="",
        elapsed_s=1.0,
        samples=samples,
    )


def test_run_params_match_the_attack_base():
    from feint.attacks.base import Attack

    assert RUN_PARAMS == Attack.RUN_PARAMS


def test_a_sweep_is_found_from_the_one_varied_numeric_parameter():
    runs = [
        _run("b", "pgd", {"eps": "0.3", "norm": "inf"}, [True, True]),
        _run("a", "pgd", {"eps": "0.1", "norm": "inf"}, [False, True]),
        _run("c", "jsma", {"theta": "1"}, [True, False]),
    ]
    sw = sweeps(runs)
    assert list(sw) == ["pgd"] and sw["pgd"]["param"] == "eps"
    assert [(p["value"], p["successes"], p["samples"], p["run_ids"]) for p in sw["pgd"]["points"]] == [
        (0.1, 1, 2, ["a"]),
        (0.3, 2, 2, ["b"]),
    ]
    assert sw["pgd"]["points"][0]["linf"] == 0.2 and sw["pgd"]["points"][0]["queries"] == 6.0
    summary = by_attack(runs)
    assert summary["pgd"]["total_runs"] == 2 and summary["pgd"]["successes"] == 3
    assert summary["pgd"]["linf"] == {"min": 0.1, "avg": (0.1 + 0.2 + 0.2) / 3, "max": 0.2}


def test_no_sweep_when_several_or_non_numeric_parameters_vary():
    assert (
        sweeps(
            [
                _run("a", "pgd", {"eps": "0.1", "norm": "inf"}, [True]),
                _run("b", "pgd", {"eps": "0.2", "norm": "2"}, [True]),
            ]
        )
        == {}
    )
    assert sweeps([_run("a", "pgd", {"norm": "inf"}, [True]), _run("b", "pgd", {"norm": "2"}, [True])]) == {}


def test_nothing_turned_gives_missing_distances():
    a = by_attack([_run("a", "pgd", {"eps": "0.1"}, [False, False])])["pgd"]
    assert a["linf"] == {"min": None, "avg": None, "max": None} and a["best_score"] is None


def test_clean_accuracy_counts_each_sample_once():
    runs = [_run("a", "pgd", {"eps": "0.1"}, [True, True]), _run("b", "pgd", {"eps": "0.2"}, [True, True])]
    assert clean_accuracy(runs) == {"samples": 2, "correct": 1, "accuracy": 0.5}
