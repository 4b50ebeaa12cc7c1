"""The target spec: one parsed form of what names a target, whose text form never changes
(workers rebuild targets from it and stored scans record it)."""

from __future__ import annotations

import pytest

from feint.targets.spec import TargetSpec

# text -> (kind, name, class_name, trusted)
CASES = {
    "digits_keras": ("builtin", "digits_keras", None, False),
    "trusted:digits_keras": ("builtin", "digits_keras", None, True),
    "models/my.yaml": ("yaml", "models/my.yaml", None, False),
    "/abs/My.YML": ("yaml", "/abs/My.YML", None, False),
    "trusted:/abs/my.yaml": ("yaml", "/abs/my.yaml", None, True),
    "mine.py": ("python", "mine.py", None, False),
    "/abs/mine.py:MyTarget": ("python", "/abs/mine.py", "MyTarget", False),
    "trusted:/abs/Mine.PY:Other_2": ("python", "/abs/Mine.PY", "Other_2", True),
    "C:/models/mine.py:T": ("python", "C:/models/mine.py", "T", False),
    "mine.py:not-a-class": ("builtin", "mine.py:not-a-class", None, False),
    "my.yaml:Class": ("builtin", "my.yaml:Class", None, False),
    "": ("builtin", "", None, False),
}


@pytest.mark.parametrize("text", list(CASES))
def test_parse_reads_each_form_and_str_gives_the_text_back(text):
    spec = TargetSpec.parse(text)
    assert (spec.kind, spec.name, spec.class_name, spec.trusted) == CASES[text]
    assert str(spec) == text and TargetSpec.parse(str(spec)) == spec
    assert spec.source == text.removeprefix("trusted:")


def test_trust_is_added_without_changing_the_rest():
    spec = TargetSpec.parse("/abs/mine.py:MyTarget")
    assert str(spec.with_trust()) == "trusted:/abs/mine.py:MyTarget" and spec.with_trust().is_file
    assert not TargetSpec.parse("photos").is_file


def test_the_spec_of_a_file_target_is_the_text_today(tmp_path):
    """A declared target's spec, with and without --trust-model, as stored scans hold it."""
    from feint.targets import get_target
    from tests.targets.own_models import built, write_yaml

    path = write_yaml(tmp_path, "spec_t", str(built() / "mlp.pt"), samples=str(built() / "digits.npz"))
    assert get_target(str(path), load=False).spec == str(path.resolve())
    trusted = get_target(str(path), load=False, trust=True)
    assert trusted.spec == "trusted:" + str(path.resolve())
    assert get_target(trusted.spec, load=False) is trusted
    assert trusted.describe()["source"] == str(path.resolve())
