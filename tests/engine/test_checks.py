"""feint check: a deliberately masked model (one that rounds its inputs, or one whose
module ends in a softmax that saturates) is flagged; the plain model passes."""

import json

import numpy as np
import pytest
import torch

from feint import api
from feint.cli.app import main
from feint.targets.base import Target


class _Rounding(torch.nn.Module):
    """The digits CNN behind a rounding of its input to 8 levels: its input gradient is zero."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.round(x * 7) / 7)


class _Softmax(torch.nn.Module):
    """The digits CNN with a saturating softmax at the end: it gives probabilities, not logits."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(50 * self.net(x), dim=1)


def _masked(digits, wrap, name):
    class Masked(Target):
        target_name = name
        data_type = "image"
        input_shape = digits.input_shape
        output_classes = digits.output_classes
        bounds = digits.bounds

        def load(self):
            self.X, self.y = digits.X[:40], digits.y[:40]
            self._module = wrap(digits.torch_module()).eval()

        def torch_module(self):
            return self.ensure_loaded()._module

        def predict(self, x):
            self.ensure_loaded()
            with torch.no_grad():
                z = self._module(torch.as_tensor(np.asarray(x, np.float32)))
            return (z if wrap is _Softmax else torch.softmax(z, 1)).numpy()

    return Masked()


def _status(found):
    return {c["name"]: c["status"] for c in found}


def test_the_plain_model_passes(digits_keras):
    found = _status(api.check(digits_keras, "0:30"))
    assert found["gradients"] == "pass" and found["output"] in ("pass", "warn")
    assert all(s != "fail" for s in found.values()), found


def test_a_model_that_rounds_its_inputs_is_flagged(digits_keras):
    found = _status(api.check(_masked(digits_keras, _Rounding, "rounding"), "0:30"))
    assert found["gradients"] == "fail"
    assert "fail" in (found["closed-box"], found["unbounded"], found["loss rises"])


def test_a_saturated_softmax_is_flagged(digits_keras):
    found = _status(api.check(_masked(digits_keras, _Softmax, "saturated"), "0:30"))
    assert found["output"] == "fail"


def test_cli_check_exit_codes(capsys, fresh_home):
    assert main(["check", "digits_keras", "-i", "0:20", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {c["name"] for c in doc["checks"]} >= {"gradients", "budget", "iterative", "closed-box"}
    assert main(["check", "digits_keras", "--eps", "0"]) == 2
    assert "--eps expects a number above 0" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [[], ["--no-checks"]])
def test_evaluate_keeps_its_checks(capsys, fresh_home, flag):
    assert main(["evaluate", "digits_keras", "--eps", "0.3", "--version", "fast", "-i", "0:4", "--json", *flag]) == 0
    doc = json.loads(capsys.readouterr().out)
    checks = doc["settings"]["checks"]
    assert (checks is False) if flag else {c["name"] for c in checks} >= {"gradients", "budget"}
