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
    for _ in range(100):  # longer than a machine word, edits scattered through a review
        a = "".join(rnd.choice("abcde \u200b") for _ in range(rnd.randint(60, 300)))
        b = list(a)
        for _ in range(rnd.randint(1, 12)):
            k = rnd.randrange(len(b))
            b[k : k + rnd.randint(0, 2)] = rnd.choice(["", "x", "ab", "\u200c"])
        assert textdiff.edit_distance(a, "".join(b)) == naive(a, "".join(b))
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


def test_a_doc_renders_candidates_from_its_current_text_as_words_change_length():
    from feint.attacks.text.base import Doc

    doc = Doc.of("It's a <b>good</b> film, truly good!")
    assert doc.words == ["It's", "a", "b", "good", "b", "film", "truly", "good"]
    doc.set(3, "excellent")
    doc.set(6, "so")
    assert doc.render() == "It's a <b>excellent</b> film, so good!"
    assert doc.render({5: "movie", 7: "fine"}) == "It's a <b>excellent</b> movie, so fine!"
    assert doc.render({0: ""}) == " a <b>excellent</b> film, so good!"
    assert doc.changed == {3, 6}
    doc.set(3, doc.original(3))  # put back: no longer a change
    assert doc.changed == {6} and doc.render() == "It's a <b>good</b> film, so good!"


def test_restoring_keeps_every_text_turned_with_no_more_words_and_queries_in_budget(blackbox):
    runs = {}
    for restore in (False, True):
        attack = get_attack("text.synonym")(
            sample_index="0:20", search="greedy", senses=0, max_queries=400, restore=restore
        )
        runs[restore] = execute_run(blackbox, attack, None)
    without, with_ = ({s.index: s for s in runs[k].samples} for k in (False, True))
    assert sum(s.l0 for s in with_.values() if s.success) < sum(s.l0 for s in without.values() if s.success)
    for i, s in with_.items():
        assert s.success == without[i].success and s.l0 <= without[i].l0
        assert s.forward_queries <= 400 + 2
        if s.success:  # the stored text is adversarial and its words are what l0 says
            assert blackbox.predict([s.text["adversarial"]]).argmax(1)[0] != blackbox.y[i]
            assert s.l0 == textdiff.words_changed(s.text["original"], s.text["adversarial"])


def test_stop_words_are_left_alone_when_asked_and_every_sense_widens_the_synonyms(blackbox):
    from feint.attacks.text import lexicon

    attack = get_attack("text.deepwordbug")(sample_index="0:6", seed=0, skip_stop_words=True, restore=False)
    run = execute_run(blackbox, attack, None)
    for s in run.samples:
        before, after = s.text["original"].split(), s.text["adversarial"].split()
        assert len(before) == len(after)
        changed = [w for w, v in zip(before, after) if w != v]
        assert all(w.strip(".,!?;:\"'()").lower() not in lexicon.stop_words() for w in changed)
    few, every = lexicon.synonyms("film"), lexicon.synonyms("film", 0)
    assert set(few) < set(every) and "flick" in every
    assert lexicon.synonyms("good", 0)[: len(lexicon.synonyms("good"))] != [] and len(lexicon.synonyms("good", 0)) > 10


def test_inflected_words_get_their_lemmas_synonyms_inflected_the_same_way():
    from feint.attacks.text import lexicon

    assert lexicon.synonyms("movies", 0) == []  # WordNet lists the lemma only
    assert {"films", "pictures", "flicks"} <= set(lexicon.inflected_synonyms("movies", 0))
    assert "behaved" in lexicon.inflected_synonyms("acted", 0)
    assert "knowed" not in lexicon.inflected_synonyms("loved", 0)  # know: knew, irregular
    assert "observing" in lexicon.inflected_synonyms("watching", 0)
    assert "wasted" in lexicon.inflected_synonyms("blew", 0)  # the exception list: blow
    assert "laughable" in lexicon.inflected_synonyms("funniest", 0)  # an adjective: as it is
    assert [lexicon.inflect(w, "s") for w in ("film", "box", "story", "day")] == ["films", "boxes", "stories", "days"]
    assert [lexicon.inflect(w, "ed") for w in ("act", "love", "carry")] == ["acted", "loved", "carried"]
    assert [lexicon.inflect(w, "ing") for w in ("act", "love", "see")] == ["acting", "loving", "seeing"]
    assert lexicon.inflect("go", "s", verb=True) == "goes"


def test_pwws_rescoring_scores_every_synonym_at_its_step_and_keeps_to_the_budgets(blackbox):
    base = {"sample_index": "0:8", "senses": 0, "inflections": True, "max_words": 5, "max_queries": 600}
    runs = {r: execute_run(blackbox, get_attack("text.synonym")(rescore=r, **base), None) for r in (False, True)}
    spent = {r: sum(s.forward_queries for s in runs[r].samples) for r in runs}
    assert spent[True] > spent[False]  # a query per synonym at each step, not one
    for s in runs[True].samples:
        assert s.forward_queries <= 600 + 2 and s.l0 <= 5
        assert s.l0 == textdiff.words_changed(s.text["original"], s.text["adversarial"])
        turned = blackbox.predict([s.text["adversarial"]]).argmax(1)[0] != blackbox.y[s.index]
        assert s.success == turned


def test_hotflip_with_every_sense_and_inflections_turns_more_reviews(openbox):
    turned = {}
    for kw in ({}, {"senses": 0, "inflections": True}):
        run = execute_run(openbox, get_attack("text.hotflip")(sample_index="0:20", **kw), None)
        turned[bool(kw)] = sum(s.success for s in run.samples)
        for s in run.samples:
            assert s.l0 == textdiff.words_changed(s.text["original"], s.text["adversarial"]) <= 10
    assert turned[True] >= turned[False] + 5  # 17 against 6 of the first 20 reviews
