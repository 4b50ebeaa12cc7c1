"""The text attacks on the built-in text targets: they turn real reviews, keep to their
budgets, are seeded, and the stored texts give back every reported distance."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from feint import api, textdiff
from feint.attacks.catalog import get_attack
from feint.engine.run import execute_run
from feint.errors import FeintError, Incompatible
from feint.store.db import Store
from feint.targets import get_target

TEXT_ATTACKS = ["deepwordbug", "typos", "bad_characters", "synonym", "transform"]


@pytest.fixture(scope="module")
def blackbox():
    return get_target("movie_reviews_blackbox")


@pytest.fixture(scope="module")
def openbox():
    return get_target("movie_reviews")


def test_the_targets_are_real_models_with_held_out_accuracy(blackbox, openbox):
    for target in (blackbox, openbox):
        assert target.data_type == "text"
        assert target.info["held_out"] == 5000
        assert target.info["held_out_accuracy"] > 0.85
        probs = target.predict(target.get_samples(range(20)))
        assert probs.shape == (20, 2)
        np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
        assert np.mean(probs.argmax(1) == target.y[:20]) >= 0.75
    assert openbox.open_box and not blackbox.open_box


@pytest.mark.parametrize("name", TEXT_ATTACKS)
def test_each_attack_turns_reviews_within_its_budgets(blackbox, name):
    attack = api.new_attack(name, {"max_words": 8, "max_queries": 300, "sample_index": "0:6", "seed": 3})
    run = execute_run(blackbox, attack)
    assert run.successes >= 1, [s.final_conf for s in run.samples]
    for s in run.samples:
        assert s.forward_queries <= 300 + 2  # the attack's budget and the runner's two predictions
        assert s.text is not None and s.measures["words_changed"] <= 8
        # every distance is what the stored texts give
        found = textdiff.distances([s.text["original"]], [s.text["adversarial"]])
        assert s.l0 == found["words_changed"][0] == s.measures["words_changed"]
        assert s.l2 == found["char_edits"][0] == s.measures["char_edits"]
        assert s.linf == pytest.approx(found["words_changed_share"][0])
        similarity = blackbox.text_similarity([s.text["original"]], [s.text["adversarial"]])[0]
        assert s.measures["similarity"] == pytest.approx(similarity) and -1 <= similarity <= 1 + 1e-9
        if s.text["original"] == s.text["adversarial"]:
            assert similarity == pytest.approx(1.0)
        # the label reported is the model's on the adversarial text
        probs = blackbox.predict([s.text["adversarial"]])[0]
        assert blackbox.output_classes[int(probs.argmax())] == s.final_label
        assert s.final_conf == pytest.approx(float(probs.max()), rel=1e-5)


def test_the_same_seed_gives_the_same_texts_whatever_the_batches(blackbox):
    def texts(**shape):
        run = execute_run(blackbox, api.new_attack("deepwordbug", {"sample_index": "0:5", **shape}))
        return [s.text["adversarial"] for s in run.samples]

    assert texts(seed=1) == texts(seed=1, batch_size=2)
    assert texts(seed=1) != texts(seed=2)


def test_a_tight_query_budget_holds_exactly(blackbox):
    run = execute_run(
        blackbox, api.new_attack("synonym", {"max_queries": 7, "sample_index": "0:4", "search": "greedy"})
    )
    assert all(s.forward_queries <= 7 + 2 for s in run.samples)
    assert any("max_queries=7" in (s.note or "") for s in run.samples if not s.success)


def test_bad_characters_hide_their_changes_from_a_reader(blackbox):
    for kind in ("homoglyph", "invisible", "reorder", "deletion"):
        run = execute_run(blackbox, api.new_attack("bad_characters", {"kind": kind, "sample_index": "0:3"}))
        for s in run.samples:
            if s.text["adversarial"] == s.text["original"]:
                continue
            changed = [
                b for k, a, b in textdiff.diff_segments(s.text["original"], s.text["adversarial"]) if k != "equal"
            ]
            assert changed
            if kind == "homoglyph":
                assert all(any(ord(c) > 127 for c in w) for w in changed)
            if kind == "invisible":  # the same letters, with zero-width characters among them
                stripped = "".join(c for c in s.text["adversarial"] if c not in "\u200b\u200c\u200d\u2060")
                assert stripped == s.text["original"]


def test_text_attacks_refuse_image_targets_and_image_attacks_refuse_text(blackbox, digits_blackbox):
    with pytest.raises(Incompatible, match="accepts: text"):
        get_attack("deepwordbug").check_target(digits_blackbox)
    with pytest.raises(Incompatible, match="does not accept text"):
        get_attack("hop_skip_jump").check_target(blackbox)


def test_a_bad_option_is_one_line_naming_it():
    with pytest.raises(FeintError, match="kind"):
        api.new_attack("bad_characters", {"kind": "sparkles"})


def test_a_scan_stores_the_texts_and_every_report_shows_the_change(blackbox, fresh_home):
    from feint.report.formats import load, render

    store = Store()
    try:
        scan = api.scan(blackbox, ["synonym"], common={"sample_index": "0:3"}, store=store)
        subject = load(store, scan.scan_id)
    finally:
        store.close()
    again = subject.scan
    stored = again.runs[0].samples
    fresh = scan.runs[0].samples
    assert [s.text for s in stored] == [s.text for s in fresh]
    turned = next(s for s in stored if s.text["adversarial"] != s.text["original"])
    doc = json.loads(render(subject, "json"))
    sample = next(x for x in doc["runs"][0]["samples"] if x["index"] == turned.index)
    assert sample["text"] == turned.text
    old, new = next((a, b) for k, a, b in textdiff.diff_segments(**turned.text) if k == "changed")
    md = render(subject, "markdown")
    assert f"~~{old}~~ **{new}**" in md
    page = render(subject, "html")
    assert f"<del>{old}</del><ins>{new}</ins>" in page


def test_reports_escape_text_and_show_invisible_characters():
    from feint.report.console import text_markup
    from feint.report.html import text_segments
    from feint.report.markdown import text_diff

    original, adversarial = "a <b>bold</b> claim here", "a <b>bo\u200bld</b> claim here"
    assert "**&lt;b&gt;bo&lt;U+200B&gt;ld&lt;/b&gt;**" in text_diff(original, adversarial)
    assert any("<U+200B>" in b for _, _, b in text_segments(original, adversarial))
    markup = text_markup("[red]x[/red] y", "[red]x[/red] z")  # rich markup in a review stays text
    assert markup.startswith("\\[red]x\\[/red]") and "[red strike]y[/red strike]" in markup


def test_edit_distance_is_levenshtein():
    def naive(a, b):
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            row = [i]
            for j, cb in enumerate(b, 1):
                row.append(min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = row
        return prev[-1]

    rnd = random.Random(0)
    for _ in range(500):
        a = "".join(rnd.choice("ab c\u200b") for _ in range(rnd.randint(0, 10)))
        b = "".join(rnd.choice("abd c") for _ in range(rnd.randint(0, 10)))
        assert textdiff.edit_distance(a, b) == naive(a, b)
    assert textdiff.words_changed("the film was good", "the film was") == 1
    assert textdiff.words_changed("the film was good", "the flim was great") == 2


def test_hotflip_takes_gradients_through_the_embeddings_and_counts_them(openbox, blackbox):
    run = execute_run(openbox, api.new_attack("hotflip", {"sample_index": "15:18", "max_queries": 60}))
    assert run.successes >= 1
    for s in run.samples:
        assert s.gradient_queries >= 1  # one per step, each with its forward query
        assert s.forward_queries + s.gradient_queries <= 60 + 2
        probs = openbox.predict([s.text["adversarial"]])[0]
        assert openbox.output_classes[int(probs.argmax())] == s.final_label
    with pytest.raises(Incompatible, match="needs gradients"):
        get_attack("hotflip").check_target(blackbox)


def test_a_chunked_scan_in_worker_processes_gives_the_same_texts(blackbox, fresh_home):
    whole = api.scan(blackbox, ["typos"], common={"sample_index": "0:4", "seed": 5}, executor="local")
    chunked = api.scan(
        blackbox,
        ["typos"],
        common={"sample_index": "0:4", "seed": 5},
        executor="process",
        workers=2,
        chunk_size=2,
        resume_unfinished=False,
    )
    assert [s.text for s in whole.runs[0].samples] == [s.text for s in chunked.runs[0].samples]
    assert [s.forward_queries for s in whole.runs[0].samples] == [s.forward_queries for s in chunked.runs[0].samples]


def test_a_fixed_transformation_costs_one_ranking_pass_and_changes_max_words(blackbox):
    attack = api.new_attack("transform", {"kind": "split", "fixed": True, "max_words": 3, "sample_index": "0:4"})
    run = execute_run(blackbox, attack)
    for s in run.samples:
        from feint.attacks.text.base import Doc

        ranked = [w for w in Doc.of(s.text["original"]).words if len(w) >= 2]
        assert s.forward_queries == len(ranked) + 2  # one deletion per word, and the runner's two
        words = len(s.text["original"].split())
        assert s.text["adversarial"].replace(" ", "") == s.text["original"].replace(" ", "")
        assert len(s.text["adversarial"].split()) == words + 3  # three words split in two


def test_the_diff_shows_each_substituted_word_where_it_stands():
    segments = textdiff.diff_segments("awful plot and terrible acting", "atrocious diagram and awful playing")
    assert [(a, b) for k, a, b in segments if k == "changed"] == [
        ("awful", "atrocious"),
        ("plot", "diagram"),
        ("terrible", "awful"),
        ("acting", "playing"),
    ]
    assert textdiff.words_changed("awful plot and terrible acting", "atrocious diagram and awful playing") == 4
