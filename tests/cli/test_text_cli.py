"""Text targets from the command line: a scan prints each changed review with its changes
marked, and a bad option is one line, exit 2, nothing stored."""

import re
import sqlite3

from feint.cli.app import main


def test_scan_movie_reviews_prints_the_changes(capsys, fresh_home):
    code = main(["scan", "movie_reviews_blackbox", "-i", "0:4", "-a", "deepwordbug", "synonym"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "text.deepwordbug on movie_reviews_blackbox" in out and "text.synonym on movie_reviews_blackbox" in out
    assert "Words chg." in out and "Char. edits" in out and "Linf" not in out
    changes = re.findall(r"\[-([^\]]+)-\]\{\+([^}]+)\+\}", out)  # no colours in a capture: [-old-]{+new+}
    assert len(changes) >= 4 and all(old != new for old, new in changes)
    assert re.search(r"Sample \d+ (negative|positive) -> (negative|positive) \(turned\):", out)


def test_a_bad_text_option_is_one_line_and_stores_nothing(capsys, fresh_home):
    code = main(["run", "movie_reviews_blackbox", "bad_characters", "-i", "0:2", "--set", "kind=sparkles"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "kind" in err and "homoglyph, invisible, reorder, deletion" in err
    db = fresh_home / "feint.db"
    if db.exists():
        assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_a_gate_on_a_text_scan_reads_the_words_changed(capsys, fresh_home):
    code = main(["scan", "movie_reviews_blackbox", "-i", "0:4", "-a", "typos", "--fail-on", "l0.max <= 10", "--json"])
    out, _ = capsys.readouterr()
    import json

    doc = json.loads(out)
    turned = [s for r in doc["runs"] for s in r["samples"] if s["success"]]
    assert turned and all(s["l0"] == s["words_changed"] <= 10 for s in turned)
    assert code == 1 and doc["gates"][0]["failed"]  # typos changes at most max_words=10 words
