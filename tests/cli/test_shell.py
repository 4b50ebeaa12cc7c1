"""The interactive shell: scripted sessions (in-process), completion, errors, Ctrl-C in a pty."""

import json
import os
import re
import sqlite3
import sys
import time

import pytest

from feint.cli.app import main
from feint.cli.shell import FeintShell, parse_pairs, split_commands
from feint.errors import FeintError


def shell(capsys, commands, *flags):
    code = main(["shell", *flags, "-c", commands])
    out, err = capsys.readouterr()
    return code, out, err


def db(home, sql):
    con = sqlite3.connect(home / "feint.db")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_counterfit_session(capsys, fresh_home, digits_keras):
    script = """list targets
interact digits_keras
predict -i 0
use pgd
set eps 0.2
set sample_index 0:5 max_iter 10
run
show results
use jsma
run
scan -a pgd jsma -i 0:3 --set pgd.max_iter=10
show runs
back
back
exit
show options"""  # nothing after exit runs
    code, out, err = shell(capsys, script.replace("\n", ";"))
    assert code == 0, err
    assert err == ""
    # the prompt shows the target and the attack instance
    assert re.search(r"digits_keras>pgd:[0-9a-f]{8}> run", out)
    assert "feint> list targets" in out and "digits_keras> use pgd" in out
    assert "Predictions of digits_keras" in out
    # what is stored: the pgd run, the jsma run and a scan of two runs
    runs = db(fresh_home, "SELECT run_id, attack, scan_id, n, successes, params FROM runs ORDER BY rowid")
    assert [(r[1], r[2] is None, r[3]) for r in runs] == [
        ("pgd", True, 5),
        ("jsma", True, 1),
        ("pgd", False, 3),
        ("jsma", False, 3),
    ]
    params = json.loads(runs[0][5])
    assert params["eps"] == 0.2 and params["sample_index"] == "0:5" and params["max_iter"] == 10
    pgd = db(
        fresh_home,
        f"SELECT idx, linf, gradient_queries, forward_queries FROM samples WHERE run_id = '{runs[0][0]}' ORDER BY idx",
    )
    assert [s[0] for s in pgd] == [0, 1, 2, 3, 4]
    assert all(s[1] <= 0.2 + 1e-6 and s[2] == 10 and s[3] == 12 for s in pgd)
    # the numbers printed are the stored ones; 'show results' reprints the last run
    assert out.count(f"run {runs[0][0]}") == 2
    assert f"Success {runs[0][4]}/5" in out and f"Success {runs[1][4]}/1" in out
    scans = db(fresh_home, "SELECT scan_id, status FROM scans")
    assert len(scans) == 1 and scans[0][1] == "done" and "Summary by attack" in out
    assert scans[0][0] in out.split("This session")[1]  # 'show runs' lists the scan
    assert "Options" not in out.split("exit")[-1]  # the script ended at exit


def test_bad_value_is_one_line_and_the_session_goes_on(capsys, fresh_home):
    code, out, err = shell(
        capsys,
        "interact digits_keras; use pgd; set eps banana; set eps 0.1 max_iter 0; show options; set eps 0.25",
        "-k",
    )
    assert code == 2  # the first failure's code
    lines = err.strip().splitlines()
    assert lines == [
        "error: parameter 'eps' expects a number in (0, inf); got 'banana'",
        "error: parameter 'max_iter' expects an integer in [1, 100000]; got '0'",
    ]
    options = out.split("> show options")[1]
    row = next(line for line in options.splitlines() if line.startswith("│ eps "))
    assert "0.3" in row and "0.1" not in row  # nothing was changed by either failed set
    assert "eps*" in out.split("set eps 0.25")[1]  # the last command ran and marked what it set


def test_a_script_file_stops_at_the_first_failure(capsys, fresh_home, tmp_path):
    path = tmp_path / "session.feint"
    path.write_text("# assess the digits\n\ninteract digits_keras\nuse no_such_attack\nrun\n")
    assert main(["shell", "-s", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "unknown attack 'no_such_attack'" in err and len(err.strip().splitlines()) == 1
    assert "> run" not in out  # stopped before run
    assert not (fresh_home / "feint.db").exists() or db(fresh_home, "SELECT COUNT(*) FROM runs") == [(0,)]
    path.write_text("interact digits_keras\nuse pgd\nset max_iter 2\nrun\nsave -o " + str(tmp_path / "s.json"))
    assert main(["shell", "-s", str(path)]) == 0
    out, _ = capsys.readouterr()
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["attack"] == "pgd" and saved["target"] == "digits_keras" and str(tmp_path / "s.json") in out
    assert saved["options"]["max_iter"] == {
        "current": "2",
        "default": "100",
        "previous": ["100"],
        "doc": saved["options"]["max_iter"]["doc"],
    }
    assert [r["run_id"] for r in saved["runs"]] == [r[0] for r in db(fresh_home, "SELECT run_id FROM runs")]
    assert main(["shell", "-s", str(tmp_path / "missing.feint")]) == 2
    assert "cannot read the script" in capsys.readouterr().err


@pytest.mark.parametrize(
    "commands, message",
    [
        ("run", "no active target; 'interact TARGET' first"),
        ("interact digits_keras; run", "no active attack; 'use ATTACK' first"),
        ("intract digits_keras", "unknown command 'intract' (did you mean interact?)"),
        ("list foo", "invalid choice: 'foo'"),
        ("interact no_such_target", "unknown target 'no_such_target'"),
        ("interact digits_blackbox; use pgd", "needs gradients (open-box)"),
        ("interact digits_keras; use pgd; set eps", "'eps' has no value"),
        ("interact digits_keras; use pgd; set bogus 1", "unknown parameter 'bogus'"),
        ("interact digits_keras; use pgd; set sample_index 5000; run", "sample index 5000 is outside"),
        ("interact digits_keras; use pgd; show results", "no results for pgd:"),
        ("interact digits_keras; scan -a pgd --set pgd.nope=1", "unknown parameter 'nope'"),
    ],
)
def test_mistakes_are_one_line(capsys, fresh_home, commands, message):
    code, out, err = shell(capsys, commands)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in out + err


def test_sample_index_changed_after_use_takes_effect(capsys, fresh_home):
    code, out, err = shell(
        capsys, "interact digits_keras; use pgd; set max_iter 2; run; set sample_index 3,4; run; back; use pgd; run"
    )
    assert code == 0, err
    runs = db(fresh_home, "SELECT run_id FROM runs ORDER BY rowid")
    got = [
        [i for (i,) in db(fresh_home, f"SELECT idx FROM samples WHERE run_id = '{r}' ORDER BY idx")] for (r,) in runs
    ]
    assert got == [[0], [3, 4], [0]]  # a new 'use' starts from the defaults


def test_ctrl_c_in_a_scan_keeps_the_runs_that_finished(capsys, fresh_home, monkeypatch):
    import feint.engine.run as run_module
    import feint.engine.scan as scan_module
    from feint.store.db import Store

    real = run_module.execute_run
    calls = []

    def second_run_interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "execute_run", second_run_interrupted)
    if hasattr(scan_module, "execute_run"):
        monkeypatch.setattr(scan_module, "execute_run", second_run_interrupted)
    code, out, err = shell(
        capsys, "interact digits_keras; scan -a pgd jsma -i 0:2 --set pgd.max_iter=3; show runs", "-k"
    )
    assert code == 130
    assert "interrupted" in err and "Traceback" not in err

    ((scan_id, status),) = db(fresh_home, "SELECT scan_id, status FROM scans")
    assert status == "interrupted"
    store = Store()
    assert [(r.attack, r.n) for r in store.get_scan(scan_id).runs] == [("pgd", 2)]  # the run that finished
    store.close()
    assert scan_id in out.split("This session")[1]  # the session went on


def test_prompt_and_state():
    sh = FeintShell(interactive=False)
    assert sh.prompt == "feint> "
    sh.onecmd_plus_hooks("interact digits_keras")
    assert sh.prompt == "digits_keras> " and sh.status == 0
    sh.onecmd_plus_hooks("use pgd; set eps 0.1")
    first = sh.attack
    assert sh.prompt == f"digits_keras>pgd:{first.id}> " and first.options["eps"] == 0.1
    sh.onecmd_plus_hooks("set_attack jsma")  # the alias
    assert sh.attack.name == "jsma" and sh.attack.id != first.id
    sh.onecmd_plus_hooks(f"use {first.id}")  # back to the first instance, options kept
    assert sh.attack is first and first.options["eps"] == 0.1
    sh.onecmd_plus_hooks("back")
    assert sh.prompt == "digits_keras> "
    sh.onecmd_plus_hooks("back")
    assert sh.prompt == "feint> " and sh.target is None
    sh.onecmd_plus_hooks("set_target digits_keras; set_attack pgd; set_params --eps 0.05 max_iter=7")
    assert sh.status == 0 and sh.attack.options["eps"] == 0.05 and sh.attack.options["max_iter"] == 7


def _complete(sh, line):
    """What completing the last word of ``line`` offers."""
    begidx = len(line) - len(line.split(" ")[-1])
    return sh.complete_set(line.split(" ")[-1], line, begidx, len(line)).to_strings()


def test_completion_functions(fresh_home, monkeypatch):
    from feint.cli.shell import _complete_attack, _complete_target

    monkeypatch.delitem(sys.modules, "feint.attacks.art", raising=False)  # as in a fresh shell

    sh = FeintShell(interactive=False)
    assert _complete_target(sh, "digits_", "interact digits_", 9, 16).to_strings() == (
        "digits_blackbox",
        "digits_keras",
    )
    found = _complete_attack(sh, "p", "use p", 4, 5).to_strings()
    assert found == ("pgd",)
    only = _complete_attack(sh, "ar", "use ar", 4, 6)
    assert only.to_strings() == ("art.",) and not only.allow_finalization  # keep typing the name
    assert "art.pgd" in _complete_attack(sh, "art.p", "use art.p", 4, 9).to_strings()
    sh.onecmd_plus_hooks("interact digits_keras; use pgd")
    assert _complete(sh, "set ep") == ("eps", "eps_step")
    assert _complete(sh, "set --max") == ("--max_iter",)
    assert _complete(sh, "set norm ") == ("2", "inf")
    assert _complete(sh, "set eps 0.1 early_stop t") == ("true",)
    assert _complete(sh, "set eps=0.1 log") == ("logger",)


def test_splitting_and_pairs():
    assert split_commands("interact digits_keras; use pgd ;run") == ["interact digits_keras", "use pgd", "run"]
    assert split_commands("set target_labels '1;2'; run # done\n# only a comment\n") == [
        "set target_labels '1;2'",
        "run # done",
    ]
    assert parse_pairs(["eps", "0.2", "--max_iter", "5", "norm=2"]) == [
        ("eps", "0.2"),
        ("--max_iter", "5"),
        ("norm", "2"),
    ]
    with pytest.raises(FeintError, match="has no value"):
        parse_pairs(["eps", "0.2", "max_iter"])
    with pytest.raises(FeintError, match="NAME VALUE pairs"):
        parse_pairs([])


def test_help_for_every_command_and_show_info(capsys, fresh_home):
    sh = FeintShell(interactive=False)
    commands = sh.get_visible_commands()
    assert {
        "list",
        "interact",
        "set_target",
        "predict",
        "use",
        "set_attack",
        "set",
        "set_params",
        "show",
        "run",
        "scan",
        "save",
        "back",
        "exit",
        "quit",
    } <= set(commands)
    assert "shell" not in commands and "edit" not in commands  # no shell escapes
    capsys.readouterr()
    for command in commands:
        sh.onecmd_plus_hooks(f"help {command}")
        out, err = capsys.readouterr()
        assert sh.status == 0 and err == "" and len(out.strip()) > 20, command
    code, out, err = shell(capsys, "interact digits_keras; show info; use jsma; show info")
    assert code == 0, err
    assert "Target digits_keras" in out and "held_out_accuracy" in out
    assert "jsma (native, evasion, open-box)" in out and "theta" in out  # the attack's options, as feint info


def test_commands_piped_on_stdin_run_as_a_script(capsys, fresh_home, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("interact digits_keras\nuse pgd\nset max_iter 2\nrun\n"))
    assert main(["shell"]) == 0
    out = capsys.readouterr().out
    ((run_id, n),) = db(fresh_home, "SELECT run_id, n FROM runs")
    assert n == 1 and f"run {run_id}" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("interact digits_keras\nset eps 1\nrun\n"))
    assert main(["shell"]) == 2  # set before use: no active attack
    assert db(fresh_home, "SELECT COUNT(*) FROM runs") == [(1,)]


def test_no_arguments_off_a_terminal_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "usage: feint" in out and "shell" in out and "predict" in out


# -- through a pseudo-terminal ------------------------------------------------------------------


def loose(text):
    """A pattern for ``text`` with terminal escape sequences allowed between its characters."""
    return r"(?:\x1b\[[0-9;?]*[A-Za-z])*".join(re.escape(c) for c in text)


def _prompt(attack=r"pgd:[0-9a-f]{8}"):
    return r"digits_keras>" + attack + ">"


def test_interactive_completion_ctrl_c_and_history(fresh_home):
    pexpect = pytest.importorskip("pexpect")
    env = dict(
        os.environ,
        FEINT_HOME=str(fresh_home),
        OMP_NUM_THREADS="1",
        NO_COLOR="1",
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",
        COLUMNS="160",
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "feint", "shell"],
        env=env,
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
        dimensions=(40, 160),
    )
    try:
        child.expect("'help' lists every command")
        child.expect("feint>")
        child.send("inte\t")  # the command completes...
        child.expect("interact")
        child.send("digits_k\t")  # ...and so does the target
        child.expect("eras")
        child.send("\r")
        child.expect("held-out accuracy", timeout=120)
        child.expect("digits_keras>")
        child.send("use p\t")  # attack names complete
        child.expect("gd")
        child.send("\r")
        child.expect("Projected gradient")
        child.expect(_prompt())
        child.send("set max_i\t")  # and option names
        child.expect("ter")
        child.send("100000 sample_index 0:50\r")
        child.expect(r"max_iter\*")
        child.expect(_prompt())
        child.sendline("run")  # far too long: about 100,000 steps on 50 digits
        child.expect("pgd on digits_keras")  # the progress bar: the run has started
        time.sleep(1.0)
        child.sendintr()
        child.expect("run interrupted; it did not finish, so nothing was stored", timeout=30)
        child.expect(_prompt())
        child.sendline("set eps banana")
        child.expect("expects a number in")
        child.expect(_prompt())
        child.sendline("set max_iter 3 sample_index 0:2")
        child.expect(_prompt())
        child.sendline("run")
        child.expect(loose("Success "))  # the run's table, whatever the styling
        child.expect(loose("/2"))
        child.expect(_prompt())
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert db(fresh_home, "SELECT n FROM runs") == [(2,)]  # only the run that finished
    history = fresh_home / "shell_history"
    assert history.is_file()
    # 'feint' alone at a terminal opens the shell, which finds the commands of the last session
    child = pexpect.spawn(
        sys.executable,
        ["-m", "feint"],
        env=env,
        encoding="utf-8",
        codec_errors="replace",
        timeout=60,
        dimensions=(40, 160),
    )
    try:
        child.expect("feint>")
        child.sendline("history -a")
        child.expect("set eps banana")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
