"""Counterfit's own target checks (init, load, samples, predict, labels), in the shape of
Counterfit's ``tests/counterfit/targets/test_targets.py``, on Counterfit-shaped target files
of both layouts whose only change is the import line; then the same files assessed by feint."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compat.conftest import CREDITCARD, import_target, needs_creditcard
from tests.targets.own_models import HSJ_SMALL, cli, scan_json

# (release, module file, class): Counterfit's built-in targets, both generations
TARGETS = [
    pytest.param(("1.0", "creditfraud.py", "CreditFraud"), marks=needs_creditcard, id="1.0-creditfraud"),
    pytest.param(("1.0", "digits_blackbox.py", "Digits"), id="1.0-digits_blackbox"),
    pytest.param(("1.1", "creditfraud.py", "CreditFraud"), marks=needs_creditcard, id="1.1-creditfraud"),
    pytest.param(("1.1", "digits_mlp.py", "Digits"), id="1.1-digits_mlp"),
]


@pytest.fixture(params=TARGETS)
def target(request, counterfit_folders):
    release, module, cls = request.param
    yield import_target(counterfit_folders[release] / module, cls)


def test_target_init(target):
    new_target = target()
    assert new_target is not None
    assert new_target.loaded_status is False and new_target.active_attack is None and len(new_target.target_id) == 8


def test_target_load(target):
    new_target = target()
    new_target.load()
    new_target.set_loaded_status(status=True)
    assert new_target.loaded_status is True


def test_target_get_samples(target):
    new_target = target()
    new_target.load()
    new_target.set_loaded_status(status=True)
    one = new_target.get_samples(1)
    shape = tuple(getattr(new_target, "input_shape", ()) or new_target.target_input_shape)
    assert one.shape == (1, *shape)
    assert new_target.get_samples([0, 2]).shape == (2, *shape)
    np.testing.assert_array_equal(new_target.get_samples(range(3, 6)), new_target.get_samples([3, 4, 5]))


def test_target_predict(target):
    new_target = target()
    new_target.load()
    new_target.set_loaded_status(status=True)
    output = np.asarray(new_target.predict(new_target.get_samples(range(4))))
    assert output.shape == (4, len(new_target._classes()))
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)


def test_target_outputs_to_labels(target):
    new_target = target()
    new_target.load()
    new_target.set_loaded_status(status=True)
    samples = new_target.get_samples(range(4))
    output = new_target.predict(samples)
    labels = new_target.outputs_to_labels(output)
    classes = new_target._classes()
    assert labels == [classes[i] for i in np.argmax(output, axis=1)]
    outputs, again = new_target.get_sample_labels(samples)  # Counterfit's pair: outputs, labels
    assert again == labels and np.allclose(outputs, output)


def test_fullpath_is_beside_the_module(counterfit_folders):
    v10 = import_target(counterfit_folders["1.0"] / "digits_blackbox.py", "Digits")()
    v11 = import_target(counterfit_folders["1.1"] / "digits_mlp.py", "Digits")()
    assert v10.fullpath("mnist_784.npz") == str(counterfit_folders["1.0"] / "mnist_784.npz")
    assert v11.fullpath(v11.data_path) == str(counterfit_folders["1.1"] / "digits_mlp" / "mnist_784.npz")


# -- the same files, assessed by feint ----------------------------------------------------------


def test_digits_files_of_both_layouts_scan(counterfit_folders, fresh_home, capsys):
    from feint.targets import get_target

    for release, module in (("1.0", "digits_blackbox.py"), ("1.1", "digits_mlp.py")):
        path = counterfit_folders[release] / module
        target = get_target(str(path))
        assert (target.data_type, target.input_shape, target.bounds) == ("image", (1, 28, 28), (0.0, 255.0))
        assert target.obj.loaded_status is True  # feint marks a target it loaded, as Counterfit's interact does
        assert target.describe()["adapter"] == "python (Counterfit API)"
    doc = scan_json(
        capsys, counterfit_folders["1.1"] / "digits_mlp.py", "-a", "HopSkipJump", "-i", "range(3)", *HSJ_SMALL
    )
    run = doc["runs"][0]
    assert run["attack"] == "hop_skip_jump" and len(run["samples"]) == 3 and run["successes"] >= 1
    assert all(0 <= s["linf"] <= 255 for s in run["samples"])


@needs_creditcard
def test_creditfraud_files_of_both_layouts_predict_and_scan(counterfit_folders, fresh_home, capsys):
    rows = np.load(CREDITCARD)["X"]
    for release in ("1.0", "1.1"):
        path = counterfit_folders[release] / "creditfraud.py"
        rc, out, err = cli(capsys, "predict", path, "-i", "range(3, 6)", "--json")
        assert rc == 0, err
        assert [p["index"] for p in __import__("json").loads(out)["predictions"]] == [3, 4, 5]
    from feint.targets import get_target

    target = get_target(str(counterfit_folders["1.0"] / "creditfraud.py"))
    np.testing.assert_array_equal(target.X, rows)
    doc = scan_json(
        capsys,
        counterfit_folders["1.0"] / "creditfraud.py",
        "-a",
        "BoundaryAttack",
        "-i",
        "0:2",
        "--set",
        "max_iter=5",
        "--set",
        "num_trial=5",
        "--set",
        "sample_size=5",
        "--set",
        "init_size=20",
    )
    assert doc["runs"][0]["attack"] == "art.boundary" and len(doc["runs"][0]["samples"]) == 2
