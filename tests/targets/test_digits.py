import numpy as np
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
        t.predict(np.clip(jitter, 0, 1)), t.predict(x), atol=1e-6)
    xt = torch.as_tensor(x).requires_grad_(True)
    t.torch_module()(xt)[:, 3].sum().backward()
    assert xt.grad is not None and xt.grad.abs().sum() > 0


def test_model_is_trained_once_and_reused(digits_keras):
    assert digits_keras.model_path().exists()
    again = type(digits_keras)()
    again.load()
    np.testing.assert_allclose(again.predict(digits_keras.X[:5]), digits_keras.predict(digits_keras.X[:5]), atol=1e-6)


def test_digits_blackbox_is_closed_box(digits_blackbox):
    t = digits_blackbox
    assert GRADIENTS not in t.capabilities and t.torch_module() is None
    assert t.info["held_out_accuracy"] >= 0.9
    assert t.outputs_to_labels(t.predict(t.X[:3])) == [str(int(v)) for v in t.predict(t.X[:3]).argmax(1)]


def test_unknown_target_names_the_accepted_ones():
    import pytest

    from feint.errors import UnknownName

    with pytest.raises(UnknownName, match=r"unknown target 'nope'; accepted: creditfraud, digits_blackbox, digits_keras, photos, satellite, a target file \(FILE.yaml, FILE.py\)"):
        get_target("nope")
