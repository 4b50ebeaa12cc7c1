"""Input that once ended in a traceback, a hang or the wrong samples ends in one line and
exit code 2, before any work starts and with nothing stored."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import pytest

from feint.cli.app import main


def _one_line(capsys, argv: list[str]) -> str:
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (code, err)
    return lines[0]


@pytest.mark.parametrize(
    "command", [["run", "digits_keras", "pgd"], ["scan", "digits_keras", "-a", "pgd"], ["predict", "digits_keras"]]
)
@pytest.mark.parametrize(
    "indices, says",
    [
        ("99999999999999999999999", "below 1,000,000,000"),
        ("0:100000000", "at most 10,000,000"),
        ("range(0, 100000000)", "at most 10,000,000"),
        ("1 2", "got '1 2'"),
    ],
)
def test_sample_indices_out_of_bounds_or_unreadable_are_one_line(command, indices, says, capsys, fresh_home):
    line = _one_line(capsys, [*command, "-i", indices])
    assert says in line
    from feint.store.db import Store

    assert Store().recent_ids() == []  # nothing ran, nothing stored


def test_a_seed_beyond_its_range_is_one_line(capsys, fresh_home):
    line = _one_line(capsys, ["run", "digits_keras", "pgd", "--seed", "18446744073709551616"])
    assert "parameter 'seed' expects an integer in [0, 4294967295]" in line
    line = _one_line(capsys, ["scan", "digits_keras", "-a", "pgd", "--set", "seed=18446744073709551616"])
    assert "parameter 'seed' expects an integer in [0, 4294967295]" in line


def test_an_unclosed_quote_in_the_shell_fails_the_script(capsys, fresh_home):
    assert main(["shell", "-c", '"unclosed']) == 2
    assert "close its quotes" in capsys.readouterr().err


def test_a_store_from_a_newer_feint_is_refused_untouched(capsys, fresh_home):
    from feint.store.db import Store

    Store().close()
    path = fresh_home / "feint.db"
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.close()
    line = _one_line(capsys, ["show", "abc"])
    assert "was written by a newer feint (schema 99; this feint reads schemas up to" in line
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "99"
    db.close()


@pytest.mark.parametrize("expr", ["not " * 5000 + "success_rate > 0.2", "(" * 5000 + "success_rate > 0.2" + ")" * 5000])
def test_a_gate_nested_too_deep_is_one_line(expr, capsys, fresh_home):
    line = _one_line(capsys, ["scan", "digits_keras", "-a", "pgd", "--fail-on", expr])
    assert "nests 'not' and parentheses more than 50 deep; accepted: at most 50" in line
    assert len(line) < 300  # the expression is quoted cut, not whole


def test_a_gate_nested_within_the_limit_still_parses():
    from feint.report.gate import parse_gate

    summary = {"pgd": {"success_rate": 0.5}}
    even = parse_gate("not " * 40 + "(" * 9 + "success_rate > 0.2" + ")" * 9)
    odd = parse_gate("not " * 41 + "(" * 8 + "success_rate > 0.2" + ")" * 8)
    assert even.evaluate(summary).failed is True and odd.evaluate(summary).failed is False


def _exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit:  # the parser's refusal
        return int(exit.code or 0)


@pytest.mark.parametrize(
    "argv, says",
    [
        (
            ["scan", "digits_keras", "-a", "pgd", "--workers", "99999999999"],
            "--workers expects a number of workers from 1 to 1,024; got '99999999999'",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "--workers", "0"],
            "--workers expects a number of workers from 1 to 1,024; got '0'",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "--chunk-size", "99999999999999999999"],
            "--chunk-size expects a number of samples from 1 to 10,000,000",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "-n", "999999999"],
            "-n expects a number of runs per attack from 1 to 1,000",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "--max-queries", "1e30"],
            "--max-queries expects a number of queries from 1 to 1,000,000,000,000,000",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "--max-time", "inf"],
            "--max-time expects a number of seconds more than 0 and at most 31,536,000; got 'inf'",
        ),
        (["scan", "digits_keras", "-a", "pgd", "--max-time", "nan"], "got 'nan'"),
        (["scan", "--resume", "abc", "--workers", "5000"], "--workers expects a number of workers from 1 to 1,024"),
        (["report", "abc", "--gallery", "99999999999"], "--gallery expects a number of samples from 0 to 1,000"),
        (
            ["run", "digits_keras", "pgd", "--set", "max_iter=99999999999"],
            "parameter 'max_iter' expects an integer in [1, 100000]",
        ),
        (
            ["scan", "digits_keras", "-a", "pgd", "--sweep", "eps=0.1,1e400"],
            "parameter 'eps' expects a number in (0, inf)",
        ),
        (["scan", "digits_keras", "-a", "pgd", "--sweep", "eps=0.1,"], "--sweep eps has an empty value; expects"),
    ],
)
def test_numeric_options_are_range_checked_with_their_limits(argv, says, capsys, fresh_home):
    assert _exit_code(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    from feint.store.db import Store

    assert Store().recent_ids() == []


def test_the_shell_range_checks_numeric_options_too(capsys, fresh_home):
    assert main(["shell", "-c", "interact digits_keras; scan -a pgd --workers 99999999999"]) == 2
    assert "--workers expects a number of workers from 1 to 1,024; got '99999999999'" in capsys.readouterr().err


def test_the_library_checks_the_upper_limits_as_well(digits_keras):
    from feint import api
    from feint.errors import FeintError

    for kwargs, says in [
        ({"workers": 10**11}, "workers expects a number of workers from 1 to 1,024"),
        ({"chunk_size": 10**20}, "chunk_size expects a number of samples from 1 to 10,000,000"),
        ({"max_queries": 10**30}, "max_queries expects a number of queries from 1 to"),
        ({"max_time": float("inf")}, "max_time expects seconds, more than 0 and at most 31,536,000"),
    ]:
        with pytest.raises(FeintError, match=re.escape(says)):
            api.scan(digits_keras, ["pgd"], common={"sample_index": "0"}, **kwargs)


@pytest.mark.parametrize(
    "argv, says",
    [
        (["predict", "digits_keras", "-o", "{file}"], "it is a file; accepted: a folder feint can write in"),
        (["predict", "digits_keras", "-o", "/dev/full"], "cannot write images into /dev/full: it is a device"),
        (["predict", "digits_keras", "-o", "/proc/feint-images"], "/proc does not take new files"),
        (["predict", "digits_keras", "-o", "{file}/images"], "is a file, not a folder"),
        (["scan", "digits_keras", "-a", "pgd", "--report", "/proc/feint.html"], "/proc does not take new files"),
        (["scan", "digits_keras", "-a", "pgd", "--report", "{file}/r.html"], "is a file, not a folder"),
        (["scan", "digits_keras", "-a", "pgd", "--report", "{folder}.md"], "it is a folder"),
        (["report", "abc", "-f", "markdown", "-o", "/dev/full"], "cannot write /dev/full: it is a device that takes"),
    ],
)
def test_output_paths_are_checked_before_any_work(argv, says, tmp_path, capsys, fresh_home):
    if not os.path.exists("/proc/self"):
        pytest.skip("needs /proc")
    (tmp_path / "taken").write_text("mine")
    (tmp_path / "dir.md").mkdir()
    names = {"file": str(tmp_path / "taken"), "folder": str(tmp_path / "dir")}
    argv = [a.format(**names) for a in argv]
    line = _one_line(capsys, argv)
    assert says in line
    assert (tmp_path / "taken").read_text() == "mine"
    from feint.store.db import Store

    assert Store().recent_ids() == []  # nothing ran


HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture()
def hostile_target(tmp_path):
    """An 8x8 image target named ``../../..`` whose classes hold HTML and rich markup."""
    import numpy as np
    import torch
    import yaml

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    torch.jit.save(torch.jit.script(net), str(tmp_path / "net.pt"))
    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "s.npz", X=x, y=np.array([0, 1, 2, 0, 1, 2]))
    doc = {
        "name": "../../..",
        "model": "net.pt",
        "data_type": "image",
        "input_shape": [1, 8, 8],
        "classes": [HOSTILE, "[/bold]", "[red]x"],
        "samples": "s.npz",
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "t.yaml"


def test_a_target_name_cannot_place_artifacts_outside_feint_home(hostile_target, capsys, fresh_home):
    home = fresh_home.resolve()
    before = set(home.parent.iterdir())
    assert main(["predict", str(hostile_target), "-i", "0:3", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    images = [Path(p["image"]).resolve() for p in doc["predictions"]]
    assert len(images) == 3 and all(home in p.parents and p.is_file() for p in images)
    assert set(home.parent.iterdir()) == before  # nothing written beside FEINT_HOME


def test_rich_markup_in_class_names_is_shown_as_text(hostile_target, capsys, fresh_home):
    assert main(["predict", str(hostile_target), "-i", "0:6"]) == 0
    out = capsys.readouterr().out
    assert "[/bold]" in out and "[red]x" in out and HOSTILE in out
    assert main(["run", str(hostile_target), "pgd", "-i", "0:3", "--set", "max_iter=2"]) == 0
    out = capsys.readouterr().out
    assert "Success" in out


def test_the_markdown_report_escapes_what_a_target_names(hostile_target, capsys, fresh_home):
    assert main(["run", str(hostile_target), "pgd", "-i", "0:6", "--set", "max_iter=2", "--json"]) == 0
    import json

    run_id = json.loads(capsys.readouterr().out)["run_id"]
    assert main(["report", run_id, "-f", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "\\[/bold\\]" in md and "\\[red\\]x" in md


SCORES = {
    "nan": ("np.full((len(x), 2), np.nan)", "predict returned NaN or infinite scores (row 0: [nan, nan])"),
    "inf": ("np.tile([np.inf, 0.0], (len(x), 1))", "predict returned NaN or infinite scores (row 0: [inf, 0])"),
    "negative": ("np.tile([-0.5, 1.5], (len(x), 1))", "predict returned negative scores (row 0: [-0.5, 1.5])"),
    "sum": ("np.tile([0.7, 0.7], (len(x), 1))", "predict returned scores that do not sum to 1 (row 0: [0.7, 0.7] sums"),
}


def _scored_target(folder, answer: str) -> str:
    path = folder / "scored.py"
    path.write_text(
        "import numpy as np\n"
        "class Scored:\n"
        "    target_name = 'scored'\n    data_type = 'tabular'\n"
        "    input_shape = (4,)\n    output_classes = ['a', 'b']\n"
        "    X = np.random.default_rng(0).random((6, 4)).astype(np.float32)\n"
        "    def load(self): pass\n"
        f"    def predict(self, x): return {answer}\n"
    )
    return str(path)


@pytest.mark.parametrize("kind", list(SCORES))
@pytest.mark.parametrize(
    "command", [["run", "{t}", "hop_skip_jump"], ["predict", "{t}"], ["scan", "{t}", "-a", "boundary"]]
)
def test_scores_from_a_python_target_are_checked_as_an_endpoints(kind, command, tmp_path, capsys, fresh_home):
    answer, says = SCORES[kind]
    target = _scored_target(tmp_path, answer)
    line = _one_line(capsys, [a.format(t=target) for a in command] + ["-i", "0:2"])
    assert f"target scored: {says}" in line
    assert "accepted: probabilities, each in 0..1, each row of 2 summing to 1 (within 0.01)" in line
    from feint.store.db import Store

    Store().close()  # no sample stored (a scan's planned runs are, to resume), no NOT NULL failure after the work
    db = sqlite3.connect(fresh_home / "feint.db")
    assert db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 0
    db.close()


@pytest.mark.parametrize("command", [["predict", "{t}"], ["run", "{t}", "hop_skip_jump"]])
def test_a_target_that_calls_sys_exit_is_one_line_not_its_exit_code(command, tmp_path, capsys, fresh_home):
    target = _scored_target(tmp_path, "__import__('sys').exit(7)")
    assert main([a.format(t=target) for a in command] + ["-i", "0:2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "Scored.predict() called sys.exit(7); a target's code must return or raise, not exit" in err


def test_valid_scores_from_a_python_target_still_run(tmp_path, capsys, fresh_home):
    target = _scored_target(tmp_path, "np.tile([0.25, 0.75], (len(x), 1))")
    assert main(["predict", target, "-i", "0:2"]) == 0
    assert "b (0.7500)" in capsys.readouterr().out


def test_show_json_is_strict_json_even_for_a_stored_infinity(capsys, fresh_home):
    import json

    assert main(["run", "digits_keras", "pgd", "-i", "0:2", "--set", "max_iter=2", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    db = sqlite3.connect(fresh_home / "feint.db")  # as an older feint could have stored it
    with db:
        db.execute("UPDATE samples SET linf = 1e999, final_conf = 1e999 WHERE run_id = ?", (run_id,))
    db.close()

    def strict(text: str):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))

    assert main(["show", run_id, "--json"]) == 0
    doc = strict(capsys.readouterr().out)
    assert doc["samples"][0]["linf"] is None
    assert main(["report", run_id, "-f", "json"]) == 0
    assert strict(capsys.readouterr().out)["samples"][0]["final_conf"] is None
    assert main(["report", run_id, "-f", "jsonl"]) == 0
    records = [strict(line) for line in capsys.readouterr().out.splitlines()]
    assert records and all(r["kind"] == "sample" and r["linf"] is None for r in records)


def test_a_binary_shell_script_is_one_line(tmp_path, capsys, fresh_home):
    script = tmp_path / "script.bin"
    script.write_bytes(bytes(range(128, 256)) * 4)
    line = _one_line(capsys, ["shell", "-s", str(script)])
    assert "cannot read the script" in line and "it is not UTF-8 text" in line


@pytest.mark.parametrize("suffix", [".yaml", ".py", ".py:Target"])
def test_a_target_file_name_too_long_for_the_file_system_is_one_line(suffix, tmp_path, capsys, fresh_home):
    name = str(tmp_path / ("a" * 5000)) + suffix
    line = _one_line(capsys, ["predict", name])
    assert "cannot read the target file" in line and "File name too long" in line and len(line) < 300


def test_a_sample_file_name_too_long_is_one_line_naming_the_key(tmp_path, capsys, fresh_home):
    (tmp_path / "t.yaml").write_text(
        "name: t\nmodel: {endpoint: {url: 'http://127.0.0.1:9/'}}\ndata_type: tabular\ninput_shape: [4]\n"
        f"classes: [a, b]\nsamples: {'a' * 5000}.npz\n"
    )
    line = _one_line(capsys, ["predict", str(tmp_path / "t.yaml")])
    assert "t.yaml: samples: cannot read 'aaaa" in line and "File name too long" in line and len(line) < 400


def test_a_line_break_in_a_value_stays_on_the_errors_one_line(capsys, fresh_home):
    line = _one_line(capsys, ["run", "digits_keras", "pgd", "--set", "eps=a\nb"])
    assert line.endswith("got 'a\\nb'")
    assert main(["shell", "-c", "interact digits_keras; run -i '\n'"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "\\n" in errors[0]


def test_a_number_option_beyond_float32_is_one_line(capsys, fresh_home):
    line = _one_line(capsys, ["run", "digits_keras", "pgd", "--set", "eps=1e308"])
    assert "parameter 'eps' expects a number in (0, inf) that float32 holds (at most 3.403e+38 in size)" in line


def test_nan_scores_for_nan_inputs_are_laid_on_the_inputs(digits_keras):
    """An attack whose options overflow its arithmetic asks the model about NaN inputs: the
    line says so, rather than blaming the target."""
    import numpy as np

    from feint.errors import FeintError
    from feint.targets.base import checked_scores

    x = np.full((2, 1, 28, 28), np.nan, np.float32)
    scores = digits_keras.predict(x)
    assert np.isnan(scores).all()
    with pytest.raises(FeintError, match="was asked about inputs holding NaN, infinite or out-of-bounds values"):
        checked_scores(digits_keras, scores, 2, inputs=x)
    with pytest.raises(FeintError, match="predict returned NaN or infinite scores"):
        checked_scores(digits_keras, scores, 2)


def test_outputs_feint_can_write_pass_the_check(tmp_path):
    """A report into folders yet to be made, a pipe or /dev/stdout, images into a new folder."""
    from feint import api

    assert api.check_output(tmp_path / "new" / "deeper" / "r.html") == tmp_path / "new" / "deeper" / "r.html"
    assert not (tmp_path / "new").exists()  # checked, not made
    (tmp_path / "old.md").write_text("before")
    api.check_output(tmp_path / "old.md")
    api.check_output(tmp_path / "images" / "here", folder=True)
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        api.check_output(tmp_path / "pipe")
    if os.path.exists("/dev/stdout"):
        api.check_output("/dev/null")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["old.md", *(["pipe"] if hasattr(os, "mkfifo") else [])]
    )
