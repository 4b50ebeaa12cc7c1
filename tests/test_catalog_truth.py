"""The catalog tells the truth: an attack listed as compatible with a built-in target runs
on it at its defaults, and every entry repeats itself under the same seed.

Running every ART attack to the end at its defaults on every target would take hours, so
each starts at its defaults on one sample and is stopped after its first model calls: it
has then passed everything a default can fail on (ART's own checks of the estimator and
the data, its parameters, its first queries). A listed pair that fails before that is a
lie of the catalog.
"""

from __future__ import annotations

import os

import pytest

from feint.attacks.catalog import attacks
from feint.engine.run import execute_run
from tests.attacks.test_layout import queried_modules

CATALOG = attacks()
CALLS = 8  # model calls before an attack is stopped: it has started for real
TARGETS = ["digits_blackbox", "digits_keras", "creditfraud", "photos"]
if os.environ.get("FEINT_SATELLITE_DATA"):
    TARGETS.append("satellite")


class Started(BaseException):
    """Raised from the model after CALLS calls: the attack ran (not an Exception, so no
    adapter reads it as the attack's own failure)."""


@pytest.fixture(scope="module")
def built():
    from feint.targets import get_target

    return {name: get_target(name) for name in TARGETS}


def _stopping(target, monkeypatch):
    calls = [0]

    def count(*_):
        calls[0] += 1
        if calls[0] > CALLS:
            raise Started

    predict = target.predict
    monkeypatch.setattr(target, "predict", lambda x: (count(), predict(x))[1])
    return [m.register_forward_pre_hook(lambda *_: count()) for m in queried_modules(target)]


PAIRS = [(a, t) for a in sorted(CATALOG) if a.startswith("art.") for t in TARGETS]


@pytest.mark.parametrize("attack, target_name", PAIRS)
def test_a_listed_attack_runs_at_its_defaults(attack, target_name, built, monkeypatch, tmp_path):
    cls, target = CATALOG[attack], built[target_name]
    if not cls.compatible(target):
        return  # not listed for this target: the refusal is one line (tests/test_contract.py)
    hooks = _stopping(target, monkeypatch)
    try:
        execute_run(target, cls(sample_index="0"), tmp_path)
    except Started:
        pass
    finally:
        for hook in hooks:
            hook.remove()


def test_membership_inference_is_not_listed_for_a_target_without_true_labels(tmp_path, monkeypatch):
    from feint.engine.scan import plan_scan
    from feint.targets import get_target

    path = tmp_path / "unlabelled.py"
    path.write_text(
        "import numpy as np\n"
        "from feint.targets import Target\n\n\n"
        "class Unlabelled(Target):\n"
        "    target_name = 'unlabelled'\n"
        "    data_type = 'tabular'\n"
        "    input_shape = (3,)\n"
        "    output_classes = ('a', 'b')\n\n"
        "    def load(self):\n"
        "        self.X = np.random.default_rng(0).random((6, 3), dtype=np.float32)\n\n"
        "    def predict(self, x):\n"
        "        p = np.asarray(x)[:, :1]\n"
        "        return np.hstack([1 - p, p])\n"
    )
    target = get_target(str(path))
    cls = CATALOG["art.membership_rule_based"]
    assert not cls.compatible(target)
    assert "art.membership_rule_based" not in [a.name for a in plan_scan(target, None)]
