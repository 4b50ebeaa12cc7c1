"""Targets written in Python: Counterfit's target classes (both generations of attribute
names, the import line alone changed or not at all) and feint Target subclasses."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from feint.errors import FeintError
from tests.targets.own_models import HSJ_SMALL, cli, digits8, reference, scan_json

# Counterfit's early attribute names, its own import line, 0..255 samples stored flat, a
# channels-last input shape, and a predict that returns a list of lists.
OLD_STYLE = '''
import os
import numpy as np
from counterfit.core.targets import CFTarget

HERE = os.path.dirname(os.path.abspath(__file__))


class Digits8(CFTarget):
    """Logistic regression on 8x8 digits, in Counterfit's early style."""
    target_name = "digits8_cf"
    target_data_type = "image"
    target_endpoint = os.path.join(HERE, "weights.npz")
    target_input_shape = (8, 8, 1)
    target_output_classes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    target_classifier = "blackbox"
    sample_input_path = os.path.join(HERE, "samples.npz")

    def load(self):
        self.data = np.load(self.sample_input_path)
        self.X = self.data["X"]
        self.y = self.data["y"]
        weights = np.load(self.target_endpoint)
        self.W, self.b = weights["W"], weights["b"]

    def predict(self, x):
        x = np.array(x).reshape(-1, 64) / 255.0
        z = x @ self.W.T + self.b
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).tolist()
'''

# Counterfit's later names, the import line changed to feint's, tabular rows, declared bounds.
NEW_STYLE = """
import os
import numpy as np
from feint.compat.counterfit import CFTarget

HERE = os.path.dirname(os.path.abspath(__file__))


class DigitRows(CFTarget):
    target_name = "digit_rows"
    data_type = "tabular"
    endpoint = os.path.join(HERE, "weights.npz")
    input_shape = (64,)
    output_classes = [str(i) for i in range(10)]
    bounds = (0.0, 1.0)

    def load(self):
        self.X = (np.load(os.path.join(HERE, "samples.npz"))["X"] / 255.0).tolist()
        weights = np.load(self.endpoint)
        self.W, self.b = weights["W"], weights["b"]

    def predict(self, x):
        z = np.asarray(x).reshape(len(x), -1) @ self.W.T + self.b
        return [list(row) for row in np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)]
"""

FEINT_STYLE = """
import numpy as np
import torch
from feint.targets import Target


class TorchDigits(Target):
    target_name = "torch_digits"
    data_type = "image"
    input_shape = (1, 8, 8)
    output_classes = tuple(str(i) for i in range(10))

    def load(self):
        data = np.load(__file__.replace("feint_style.py", "samples.npz"))
        self.X = (data["X"].reshape(-1, 1, 8, 8) / 255.0).astype(np.float32)
        self.y = data["y"]
        self.net = torch.jit.load(__file__.replace("feint_style.py", "net.pt"))

    def torch_module(self):
        return self.ensure_loaded().net
"""


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture()
def folder(tmp_path):
    import torch

    x, y = digits8()
    logistic = reference("logistic")
    np.savez(tmp_path / "weights.npz", W=logistic.coef_, b=logistic.intercept_)
    np.savez(tmp_path / "samples.npz", X=(x[-30:].reshape(30, 64) * 255).round(), y=y[-30:])
    torch.jit.save(torch.jit.script(reference("net")), str(tmp_path / "net.pt"))
    for name, text in (("old_style", OLD_STYLE), ("new_style", NEW_STYLE), ("feint_style", FEINT_STYLE)):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
    return tmp_path


def test_counterfit_target_unchanged_import(folder, home, capsys):
    from feint.targets import get_target

    target = get_target(str(folder / "old_style.py"))
    assert target.target_name == "digits8_cf" and target.data_type == "image"
    assert target.input_shape == (1, 8, 8)  # Counterfit's (8, 8, 1), seen channels first
    assert target.output_classes == tuple(str(i) for i in range(10))
    assert target.bounds == (0.0, 255.0) and target.X.shape == (30, 1, 8, 8)
    assert not target.open_box and target.spec == str(folder / "old_style.py")
    p = target.predict(target.X[:4])
    assert p.dtype == np.float32 and p.shape == (4, 10)
    np.testing.assert_allclose(p, reference("logistic").predict_proba(target.X[:4].reshape(4, -1) / 255.0), atol=1e-5)
    d = target.describe()
    assert d["adapter"] == "python (Counterfit API)" and d["class"] == "Digits8" and d["sample_accuracy"] > 0.8
    doc = scan_json(capsys, folder / "old_style.py", "-a", "hop_skip_jump", "-i", "0:3", *HSJ_SMALL)
    run = doc["runs"][0]
    assert doc["target"] == "digits8_cf" and run["successes"] >= 1
    assert all(0 <= s["linf"] <= 255 for s in run["samples"])


def test_counterfit_target_new_names_and_helpers(folder, home, capsys):
    from feint.targets import get_target

    target = get_target(str(folder / "new_style.py"))
    assert (target.data_type, target.input_shape, target.bounds) == ("tabular", (64,), (0.0, 1.0))
    cf = target.obj
    assert cf.get_samples(0).shape == (1, 64) and cf.get_samples([0, 2]).shape == (2, 64)
    assert cf.set_attack_samples([1]).shape == (1, 64) and cf.attack_samples is not None
    labels = cf.outputs_to_labels(cf.predict(cf.get_samples([0, 1])))
    assert labels == target.outputs_to_labels(target.predict(target.X[:2]))
    doc = scan_json(capsys, folder / "new_style.py", "-a", "hop_skip_jump", "-i", "0:2", *HSJ_SMALL)
    assert doc["runs"][0]["successes"] >= 1


def test_feint_target_subclass_is_open_box(folder, home, capsys):
    from feint.targets import get_target

    target = get_target(str(folder / "feint_style.py"), load=False)
    assert target.open_box and target.spec == str(folder / "feint_style.py")
    doc = scan_json(capsys, folder / "feint_style.py", "-a", "pgd", "-i", "0:6", "--set", "max_iter=5")
    assert doc["runs"][0]["successes"] >= 3
    assert doc["target_info"]["source"] == str(folder / "feint_style.py")


def test_python_file_errors(folder, home, capsys):
    from feint.targets import get_target

    both = folder / "both.py"
    both.write_text(
        textwrap.dedent(OLD_STYLE)
        + textwrap.dedent(NEW_STYLE).replace("from feint.compat.counterfit import CFTarget", "")
    )
    with pytest.raises(
        FeintError,
        match=r"both.py: defines several target classes \(Digits8, DigitRows\); "
        r"name one as .*both.py:CLASS",
    ):
        get_target(str(both))
    assert get_target(f"{both}:DigitRows").target_name == "digit_rows"
    with pytest.raises(FeintError, match=r"no target class 'Nope'; target classes in the file: Digits8, DigitRows"):
        get_target(f"{both}:Nope")
    (folder / "broken.py").write_text("def oops(:\n")
    rc, _, err = cli(capsys, "predict", folder / "broken.py")
    assert rc == 2 and "broken.py: running the file failed at line 1 (SyntaxError" in err
    assert len(err.strip().splitlines()) == 1
    (folder / "empty.py").write_text("X = 1\n")
    rc, _, err = cli(capsys, "predict", folder / "empty.py")
    assert rc == 2 and "defines no target class" in err
    (folder / "badpredict.py").write_text(
        textwrap.dedent(OLD_STYLE).replace(
            "return (e / e.sum(axis=1, keepdims=True)).tolist()", "return [[0.5, 0.5]] * len(x)"
        )
    )
    rc, _, err = cli(capsys, "predict", folder / "badpredict.py")
    assert rc == 2 and "Digits8.predict returned shape [" in err and "expected [" in err
