"""Built-in targets register in one registry: get_target, feint list targets, the command
line's help and BUILTIN all read it, so a new target is one class and one registration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from feint.targets import BUILTIN, TARGETS, BuiltinTarget, Target, get_target, target_classes
from tests.targets.own_models import cli


class Halves(Target):
    """A target as a newcomer would write it: the left or the right half is brighter."""

    target_name = "halves"
    data_type = "tabular"
    input_shape = (2,)
    output_classes = ("left", "right")
    description = "which half of two numbers is larger"

    def load(self) -> None:
        self.X = np.asarray([[0.9, 0.1], [0.2, 0.8]], np.float32)
        self.y = np.asarray([0, 1])

    def predict(self, x: np.ndarray) -> np.ndarray:
        z = np.exp(8 * np.asarray(x, np.float64))
        return (z / z.sum(1, keepdims=True)).astype(np.float32)


@pytest.fixture()
def halves(monkeypatch):
    monkeypatch.setitem(TARGETS._entries, "halves", BuiltinTarget(f"{__name__}:Halves", "the larger half"))
    import feint.targets

    monkeypatch.setattr(feint.targets, "_loaded", {})
    return "halves"


def test_a_registered_target_is_built_listed_and_named_in_help(halves, capsys):
    target = get_target(halves)
    assert isinstance(target, Halves) and target.outputs_to_labels(target.predict(target.X)) == ["left", "right"]
    assert target_classes()["halves"] is Halves and BUILTIN["halves"] == f"{__name__}:Halves"
    rc, out, _ = cli(capsys, "list", "targets", "--json")
    listed = {t["name"]: t for t in json.loads(out)["targets"]}
    assert rc == 0 and listed["halves"]["description"] == "which half of two numbers is larger"
    assert listed["halves"]["access"] == "closed-box" and listed["halves"]["classes"] == ["left", "right"]
    rc, out, _ = cli(capsys, "predict", "halves", "-i", "0", "--json")
    assert rc == 0 and json.loads(out)["predictions"][0]["label"] == "left"
    from feint.cli.commands import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices["run"]
    assert "halves" in " ".join(sub.format_help().split())


def test_builtin_is_a_read_only_view_of_the_registry():
    assert (
        list(BUILTIN)
        == TARGETS.names()
        == [
            "digits_keras",
            "digits_blackbox",
            "creditfraud",
            "satellite",
            "photos",
            "movie_reviews",
            "movie_reviews_blackbox",
        ]
    )
    assert BUILTIN["photos"] == "feint.targets.builtin.photos:Photos" and "photos" in BUILTIN
    with pytest.raises(TypeError):
        BUILTIN["mine"] = "x:Y"  # type: ignore[index]
    with pytest.raises(KeyError):
        BUILTIN["mine"]


def test_an_unknown_target_lists_the_registered_ones(capsys):
    rc, out, err = cli(capsys, "predict", "digits")
    assert rc == 2 and out == ""
    assert err.strip() == (
        "feint: error: unknown target 'digits'; accepted: creditfraud, digits_blackbox, digits_keras, movie_reviews, movie_reviews_blackbox, photos, "
        "satellite, a target file (FILE.yaml, FILE.py)"
    )
