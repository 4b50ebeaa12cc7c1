"""Counterfit's shell commands and flags in feint's shell: those that work, and those that
answer with feint's spelling (one line, exit code 2 in a script); hints name the shell's help."""

from __future__ import annotations

import json
import re

import pytest

from feint.cli.app import main

HSJ = "max_iter 2 max_eval 50 init_eval 10"


def shell(capsys, commands: str, *flags: str):
    code = main(["shell", *flags, "-c", commands])
    out, err = capsys.readouterr()
    return code, out, err


def test_counterfits_session_words(capsys, fresh_home, digits_blackbox):
    script = (
        "interact digits_blackbox; predict -i range(3, 6); predict --index 7; use HopSkipJump; "
        f"set {HSJ} sample_index range(3); run -v; predict -a; show attacks; "
        "show info --attack carlini; save --parameters; save -r; exit attack; show attacks; exit target; "
        "exit counterfit; list targets"
    )
    code, out, err = shell(capsys, script)
    assert code == 0, err
    assert err == ""
    assert re.search(r"│ 3 +│ .*\n.*│ 4 +│.*\n.*│ 5 +│", out)  # range(3, 6): samples 3, 4, 5
    assert "│ 7 " in out
    assert "hop_skip_jump (native, evasion, closed-box)" in out  # Counterfit's name, feint's attack
    attack_id = re.search(r"attack id ([0-9a-f]{8})", out).group(1)
    assert f"hop_skip_jump:{attack_id} options on digits_blackbox" in out  # run -v: the options it ran with
    assert re.search(r"Predictions of digits_blackbox \(0/3 correct\)", out)  # predict -a: the adversarials
    assert re.search(rf"{attack_id} \* +│ hop_skip_jump +│ 0:3 +│ 1 +│ 3/3", out)  # show attacks
    assert "art.carlini_linf (art, evasion, open-box" in out  # show info --attack carlini
    saved = re.findall(r"saved hop_skip_jump:\w+ \((.*?)\) to (\S+)", out)
    assert [what for what, _ in saved] == ["options", "1 run(s)"]
    options, results = (json.loads(open(path).read()) for _, path in saved)
    assert "options" in options and "runs" not in options
    assert "runs" in results and "options" not in results and len(results["runs"]) == 1
    assert options["options"]["sample_index"]["current"] == "0:3"
    assert "list targets" not in out.split("exit counterfit")[-1]  # exit counterfit left the shell


def test_counterfits_scan_flags(capsys, fresh_home, digits_blackbox):
    code, out, err = shell(
        capsys,
        "interact digits_blackbox; scan -a HopSkipJump -n 2 --sample_index 0:2 -s -v "
        "--set HopSkipJump.max_iter=2 --set max_eval=50 --set init_eval=10 --json",
    )
    assert code == 0, err
    doc = json.loads(out[out.index("{") :])
    assert [(r["attack"], r["params"]["seed"], len(r["samples"])) for r in doc["runs"]] == [
        ("hop_skip_jump", 0, 2),
        ("hop_skip_jump", 1, 2),
    ]
    assert all(r["params"]["max_iter"] == 2 for r in doc["runs"])


def test_load_reload_and_settings(capsys, fresh_home, tmp_path, digits_blackbox):
    target = tmp_path / "halves.py"
    target.write_text(
        "import numpy as np\nfrom feint.compat.counterfit import CFTarget\n\n\nclass Halves(CFTarget):\n"
        "    target_name = 'halves'\n    data_type = 'tabular'\n    input_shape = (2,)\n"
        "    output_classes = ['left', 'right']\n\n    def load(self):\n"
        "        self.X = np.array([[0.2, 0.1], [0.7, 0.4]], np.float32)\n\n"
        "    def predict(self, x):\n        p = np.asarray(x)[:, :1]\n        return np.hstack([1 - p, p])\n"
    )
    code, out, err = shell(
        capsys, f"load art; interact {target}; setg debug true; setg; reload; reload -t; predict -i 0,1"
    )
    assert code == 0, err
    assert re.search(r"art: \d+ attacks loaded", out)
    assert "debug: True" in out and "Shell settings" in out
    assert out.count(f"read {target} again: halves") == 2
    assert "Predictions of halves" in out


@pytest.mark.parametrize(
    ("command", "line"),
    [
        ("new -n mine -d image", "error: 'new' is a file in feint: declare your model in FILE.yaml"),
        ("docs", "error: 'docs' is 'help' in feint: 'help' lists the commands, 'help COMMAND' explains one"),
        (
            "scan -a pgd -o random",
            "error: scan -o random (Counterfit's random or optimised options) is --sweep in feint",
        ),
        ("scan -a pgd --optimize", "error: scan -o optimize (Counterfit's random or optimised options) is --sweep"),
        ("reload -c", "error: the shell's commands are not reloaded in a running shell; 'exit' and start it again"),
        ("use label_only_boundary_distance", "error: attack 'label_only_boundary_distance' is Counterfit's name for"),
        ("predict -r -a", "error: predict: argument -a/--attack-result/--attack_result: not allowed with argument"),
        ("exit somewhere", "error: exit: argument what: invalid choice: 'somewhere'"),
        ("setg debug", "error: setg expects NAME VALUE, e.g. 'setg debug true'; 'setg' lists the settings"),
    ],
)
def test_what_feint_spells_otherwise_is_one_line_and_exit_code_2(capsys, fresh_home, digits_keras, command, line):
    code, out, err = shell(capsys, f"interact digits_keras; {command}; list targets")
    assert code == 2
    assert err.startswith(line) and len(err.strip().splitlines()) == 1
    assert "--help" not in err
    assert "digits_keras> list targets" not in out  # the script stopped there


def test_shell_hints_name_the_shells_help(capsys, fresh_home, digits_keras):
    code, _, err = shell(capsys, "interact digits_keras; show attacks --attack x; save --bogus; scan -n two", "-k")
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[0] == "error: show attacks takes no --attack; 'show info --attack ATTACK' does"
    assert lines[1] == "error: save: unrecognized arguments: --bogus; see 'help save'"
    assert lines[2] == "error: scan: -n expects a number of runs per attack from 1 to 1,000; got 'two'; see 'help scan'"
    assert "--help" not in err


def test_the_command_line_has_scan_n_and_predict_run(capsys, fresh_home, digits_blackbox):
    hsj = ["--set", "max_iter=2", "--set", "max_eval=50", "--set", "init_eval=10"]
    code = main(
        ["scan", "digits_blackbox", "-a", "HopSkipJump", "-n", "3", "--seed", "5", "-i", "range(2)", *hsj, "--json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    runs = json.loads(out)["runs"]
    assert [r["params"]["seed"] for r in runs] == [5, 6, 7] and all(len(r["samples"]) == 2 for r in runs)
    run = runs[0]
    code = main(["predict", "digits_blackbox", "--run", run["run_id"], "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    predicted = json.loads(out)["predictions"]
    assert [p["index"] for p in predicted] == [0, 1]
    assert [p["label"] for p in predicted] == [s["final_label"] for s in run["samples"]]
    code = main(["predict", "digits_keras", "--run", run["run_id"]])
    _, err = capsys.readouterr()
    assert (
        code == 2
        and err.strip() == f"feint: error: run {run['run_id']} attacked target digits_blackbox, not digits_keras"
    )
    code = main(["scan", "digits_blackbox", "-n", "2"])
    _, err = capsys.readouterr()
    assert code == 2 and err.strip() == "feint: error: -n repeats the attacks named with -a; name them"


def test_counterfits_names_complete_where_no_feint_name_does(fresh_home, monkeypatch):
    import sys

    from feint.cli.shell import FeintShell, _complete_attack

    monkeypatch.delitem(sys.modules, "feint.attacks.art", raising=False)  # as in a fresh shell
    sh = FeintShell(interactive=False)
    assert _complete_attack(sh, "sal", "use sal", 4, 7).to_strings() == ("saliency_map",)
    assert _complete_attack(sh, "Hop", "use Hop", 4, 7).to_strings() == ("HopSkipJump",)
    assert _complete_attack(sh, "p", "use p", 4, 5).to_strings() == ("pgd",)  # feint's own first
