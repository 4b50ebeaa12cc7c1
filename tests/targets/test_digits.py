import numpy as np
import pytest
import torch

from feint.targets import GRADIENTS, get_target


def test_digits_keras_is_the_papers_cnn_and_accurate(digits_keras):
    t = digits_keras
    assert t.input_shape == (1, 28, 28) and len(t.output_classes) == 10
    assert t.X.shape == (1000, 1, 28, 28) and t.X.dtype == np.float32
    assert np.bincount(t.y).tolist() == [100] * 10
    assert t.info["held_out_accuracy"] >= 0.97
    probs = t.predict(t.X[:200])
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.mean(probs.argmax(1) == t.y[:200]) >= 0.95
    assert GRADIENTS in t.capabilities


def test_digits_keras_quantises_but_passes_gradients(digits_keras):
    t = digits_keras
    x = t.get_samples([0, 1])
    jitter = x + np.float32(0.3 / 255)  # under half a level: the same 8-bit input
    assert np.array_equal(t.predict(np.clip(jitter, 0, 1)), t.predict(x)) or np.allclose(
        t.predict(np.clip(jitter, 0, 1)), t.predict(x), atol=1e-6
    )
    xt = torch.as_tensor(x).requires_grad_(True)
    t.torch_module()(xt)[:, 3].sum().backward()
    assert xt.grad is not None and xt.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["digits_keras", "digits_blackbox", "photos"])
def test_built_in_models_are_the_shipped_files_on_every_machine(name):
    """The weights ship with feint: the file is the one whose hash was recorded when it was
    trained, and its held-out accuracy recomputed here is the recorded one, exactly."""
    from feint.targets.builtin.train import file_sha256

    t = get_target(name)
    path = t.model_path()
    assert path.is_file() and file_sha256(path) == t.info["sha256"]
    pred = t.predict(t.X).argmax(1)
    assert float(np.mean(pred == t.y)) == t.info["held_out_accuracy"]


def test_a_second_load_gives_the_same_model(digits_keras):
    again = type(digits_keras)()
    again.load()
    assert again.info["runs_as"] == digits_keras.info["runs_as"]
    np.testing.assert_allclose(again.predict(digits_keras.X[:5]), digits_keras.predict(digits_keras.X[:5]), atol=1e-6)


def test_digits_blackbox_is_closed_box(digits_blackbox):
    t = digits_blackbox
    assert GRADIENTS not in t.capabilities and t.torch_module() is None
    assert t.info["held_out_accuracy"] >= 0.9
    assert t.outputs_to_labels(t.predict(t.X[:3])) == [str(int(v)) for v in t.predict(t.X[:3]).argmax(1)]


def test_unknown_target_names_the_accepted_ones():
    import pytest

    from feint.errors import UnknownName

    with pytest.raises(
        UnknownName,
        match=r"unknown target 'nope'; accepted: creditfraud, digits_blackbox, digits_keras, movie_reviews, movie_reviews_blackbox, photos, satellite, a target file \(FILE.yaml, FILE.py\)",
    ):
        get_target("nope")


def test_the_training_script_makes_loadable_weights(tmp_path):
    """The script that made the shipped files still makes them (photos: the quickest)."""
    from feint.targets.builtin import train
    from feint.targets.builtin.smallcnn import load_cnn

    assert train.main(["--only", "photos", "--out", str(tmp_path)]) == 0
    module, meta = load_cnn(tmp_path / "photos.pt")
    assert meta["held_out_accuracy"] >= 0.9 and meta["sha256"] == train.file_sha256(tmp_path / "photos.pt")
