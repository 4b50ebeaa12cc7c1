"""HopSkipJump: a label-only attack that turns samples, stays in bounds, keeps its budget
exactly and gives the same result for the same seed. Small schedules keep each test fast."""

import json

import numpy as np
import pytest
import torch

from feint.attacks.base import Batch
from feint.attacks.catalog import get_attack
from feint.attacks.model import CountedModel
from feint.attacks.native.hop_skip_jump import HopSkipJump
from feint.attacks.trajectory import Tracker
from feint.cli.app import main
from feint.engine.run import execute_run
from feint.errors import BadValue

FAST = dict(max_iter=6, init_eval=20, max_eval=60)


def attack_batch(target, indices, seed=0, **options):
    """Call the attack directly on one batch; returns (x, x_adv, labels, rows spent per sample)."""
    idx = np.asarray(indices)
    x = torch.as_tensor(target.get_samples(idx))
    labels = torch.as_tensor(target.predict(x.numpy()).argmax(1))
    fwd, grad = np.zeros(len(idx), np.int64), np.zeros(len(idx), np.int64)
    batch = Batch(x=x, labels=labels, targets=None, generator=torch.Generator().manual_seed(seed))
    # The attack's own rows capped at max_queries (the runner, which adds its two, is not here).
    cap = options.get("max_queries")
    tracker = Tracker(x, batch.reached, max_rows=cap) if cap else None
    model = CountedModel(target, fwd, grad, idx, tracker=tracker)
    out = HopSkipJump(**options)(model, batch)
    return x, out.x_adv, labels, fwd, grad


def test_catalog_entry_is_closed_box_and_documented():
    cls = get_attack("hop_skip_jump")
    assert cls is HopSkipJump and cls.access == "closed-box" and cls.summary()
    assert set(cls.data_types) == {"image", "tabular"}
    defaults = {n: p.default for n, p in cls.params.items()}
    assert defaults["norm"] == "2" and defaults["max_iter"] == 50 and defaults["max_eval"] == 10_000
    assert defaults["init_eval"] == 100 and defaults["init_size"] == 100 and defaults["targeted"] is False
    assert defaults["max_queries"] == 0 and "batch_size" not in defaults  # the run's shape, not an option
    for name, p in cls.params.items():
        assert p.doc and p.validate(p.default) == p.default, name
    assert HopSkipJump(norm="linf").options["norm"] == "inf"


def test_init_eval_above_max_eval_is_refused(digits_blackbox):
    from feint.engine.run import prepare_run

    with pytest.raises(BadValue, match="init_eval"):
        prepare_run(digits_blackbox, HopSkipJump(init_eval=50, max_eval=10))


def test_turns_closed_box_samples_and_stays_in_bounds(digits_blackbox):
    run = execute_run(digits_blackbox, get_attack("hop_skip_jump")(sample_index="0:6", **FAST))
    assert run.successes >= 5
    for s in run.samples:
        assert s.gradient_queries == 0 and s.forward_queries > 2
        assert s.success == (s.final_label != s.initial_label)
    # The boundary walk brings the random start close: far below a random image's distance.
    assert np.median([s.l2 for s in run.samples if s.success]) < 4.0


def test_turns_open_box_samples_with_labels_only(digits_keras):
    run = execute_run(
        digits_keras, get_attack("hop_skip_jump")(sample_index="0:3", max_iter=4, init_eval=20, max_eval=40)
    )
    assert run.successes >= 2
    assert all(s.gradient_queries == 0 for s in run.samples)


def test_outputs_are_adversarial_inside_bounds_and_closer_with_more_iterations(digits_blackbox):
    x, short, labels, _, _ = attack_batch(digits_blackbox, range(4), max_iter=1, init_eval=20, max_eval=60)
    _, long, _, _, _ = attack_batch(digits_blackbox, range(4), max_iter=8, init_eval=20, max_eval=60)
    for adv in (short, long):
        assert adv.min() >= 0.0 and adv.max() <= 1.0
        pred = torch.as_tensor(digits_blackbox.predict(adv.numpy()).argmax(1))
        assert bool((pred != labels).all())
    d_short = (short - x).flatten(1).norm(dim=1)
    d_long = (long - x).flatten(1).norm(dim=1)
    assert float(d_long.median()) < float(d_short.median())


@pytest.mark.parametrize("budget", [1, 7, 40, 150, 333])
def test_max_queries_is_never_exceeded(digits_blackbox, budget):
    x, adv, labels, fwd, _ = attack_batch(
        digits_blackbox, range(5), max_iter=50, init_eval=30, max_eval=200, max_queries=budget
    )
    assert fwd.max() <= budget
    pred = torch.as_tensor(digits_blackbox.predict(adv.numpy()).argmax(1))
    moved = (adv != x).flatten(1).any(dim=1)
    assert bool((pred[moved] != labels[moved]).all())  # whatever it returns moved is adversarial
    if budget >= 150:
        assert fwd.min() >= budget - 20  # a generous budget is used, not left lying


def test_max_queries_through_the_runner(digits_blackbox):
    run = execute_run(
        digits_blackbox, get_attack("hop_skip_jump")(sample_index="0:4", max_iter=50, init_eval=30, max_queries=200)
    )
    # Every row the model saw for a sample, the runner's first and last prediction included.
    assert all(s.forward_queries <= 200 for s in run.samples)
    assert run.successes >= 3


def test_same_seed_same_result(digits_blackbox):
    kw = dict(norm="inf", **FAST)
    _, a, _, fa, _ = attack_batch(digits_blackbox, range(4), seed=3, **kw)
    _, b, _, fb, _ = attack_batch(digits_blackbox, range(4), seed=3, **kw)
    _, c, _, _, _ = attack_batch(digits_blackbox, range(4), seed=4, **kw)
    assert torch.equal(a, b) and np.array_equal(fa, fb)
    assert not torch.equal(a, c)


def test_linf_norm_turns_samples(digits_blackbox):
    run = execute_run(digits_blackbox, get_attack("hop_skip_jump")(sample_index="0:4", norm="inf", **FAST))
    assert run.successes >= 3
    assert np.median([s.linf for s in run.samples if s.success]) < 0.5


def test_targeted_reaches_the_target_or_returns_the_input(digits_blackbox):
    run = execute_run(
        digits_blackbox, get_attack("hop_skip_jump")(sample_index="0:4", targeted=True, target_labels="3", **FAST)
    )
    for s in run.samples:
        assert s.target_label == "3"
        assert s.success == (s.final_label == "3")
        if not s.success:
            assert s.l2 == 0.0  # no adversarial start: the input comes back unchanged
    assert run.successes >= 1


def test_cli_run(capsys, fresh_home):
    code = main(["run", "digits_blackbox", "hop_skip_jump", "-i", "0:3", "--set", "max_iter=5", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    assert doc["attack"] == "hop_skip_jump" and len(doc["samples"]) == 3
    assert sum(s["success"] for s in doc["samples"]) >= 2


def test_a_sample_with_no_adversarial_start_says_why(tmp_path, capsys):
    """Random inputs almost never reach the other class here (x0 > 0.999): the sample says
    that no adversarial starting point was found, in its result, the console and the reports."""
    import numpy as np
    from rich.console import Console

    from feint.engine.run import execute_run
    from feint.report.console import print_run
    from feint.report.jsonout import run_document
    from feint.targets.base import Target

    class Corner(Target):
        target_name = "corner"
        data_type = "tabular"
        input_shape = (2,)
        output_classes = ("most", "corner")

        def load(self):
            self.X = np.array([[0.2, 0.5], [0.4, 0.4]], np.float32)

        def predict(self, x):
            p = (np.asarray(x)[:, 0] > 0.999).astype(np.float64)
            return np.stack([1 - p, p], axis=1)

    target = Corner().ensure_loaded()
    run = execute_run(target, HopSkipJump(sample_index="0:2", init_size=5, max_iter=2), tmp_path)
    assert [s.success for s in run.samples] == [False, False]
    note = "no adversarial starting point in 5 random inputs; the sample is returned unchanged"
    assert [s.note for s in run.samples] == [note, note]
    assert run_document(run)["samples"][0]["note"] == note
    console = Console(record=True, width=300)
    print_run(console, run)
    assert note in console.export_text()
    from feint.store.db import Store

    store = Store(tmp_path / "feint.db")
    store.add_run(run)
    assert store.get_run(run.run_id).samples[1].note == note
    from feint.report.formats import load, render

    assert note in render(load(store, run.run_id), "markdown")
    assert note in render(load(store, run.run_id), "html")


def test_a_sample_noise_cannot_turn_starts_from_another_class_of_the_batch():
    """Random inputs almost never reach "corner" (x0 > 0.999), but the batch holds a sample
    the model calls corner: the other sample starts from it and is turned."""
    from feint.targets.base import Target

    class Corner(Target):
        target_name = "corner2"
        data_type = "tabular"
        input_shape = (2,)
        output_classes = ("most", "corner")

        def load(self):
            self.X = np.array([[0.2, 0.5], [1.0, 0.4]], np.float32)

        def predict(self, x):
            p = (np.asarray(x)[:, 0] > 0.999).astype(np.float64)
            return np.stack([1 - p, p], axis=1)

    run = execute_run(Corner().ensure_loaded(), HopSkipJump(sample_index="0:2", init_size=5, max_iter=2))
    assert [s.success for s in run.samples] == [True, True]
    assert run.samples[0].final_label == "corner" and run.samples[0].linf < 0.81


def test_the_efficient_variant_estimates_with_a_third_of_the_probes(digits_blackbox):
    rows = {}
    for variant in ("paper", "efficient"):
        log: list[dict] = []
        attack = HopSkipJump(sample_index="0:2", max_iter=1, init_eval=30, variant=variant, logger="calls")
        run = execute_run(digits_blackbox, attack, query_log=log)
        rows[variant] = max(e["rows"] for e in log)
        assert run.successes == 2
    assert rows == {"paper": 60, "efficient": 20}


def test_low_frequency_probes_grow_coarse_to_fine(digits_blackbox, monkeypatch):
    """With subspace below 1 the L2 probes come from the image's lowest frequencies, a
    fraction that grows by half every refine iterations; the paper's setting draws none."""
    from feint.attacks.native import hop_skip_jump as hsj

    sides: list[int] = []
    real = hsj.low_frequency_directions

    def recording(m, shape, basis, gen):
        sides.append(basis[0].shape[0])
        return real(m, shape, basis, gen)

    monkeypatch.setattr(hsj, "low_frequency_directions", recording)
    attack_batch(digits_blackbox, range(3), **FAST)
    assert sides == []
    x, x_adv, labels, fwd, _ = attack_batch(
        digits_blackbox, range(3), subspace=0.3, refine=2, max_queries=400, **{**FAST, "max_iter": 5}
    )
    assert sorted(set(sides)) == [8, 13, 19]  # 0.3, 0.45 and 0.675 of 28 frequencies
    assert sides == sorted(sides) and (fwd <= 400).all()
    pred = torch.as_tensor(digits_blackbox.predict(x_adv.numpy()).argmax(1))
    assert bool((pred != labels).all()) and x_adv.min() >= 0 and x_adv.max() <= 1
