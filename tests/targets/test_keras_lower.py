"""Keras models run as plain torch must compute what Keras computes, values and input
gradients, and anything feint cannot translate must keep running through Keras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from feint.targets.adapters.keras_lower import NotLowerable, lower, lower_verified
from feint.targets.builtin.digits import import_keras


@pytest.fixture(scope="module")
def keras():
    k = import_keras()
    k.utils.set_random_seed(3)
    return k


def _randomise_batch_norm(model) -> None:
    """Fresh batch norms are the identity; give them statistics so a wrong axis shows."""
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(size=n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, size=n).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, size=n).astype("float32"))
            layer.beta.assign(rng.normal(size=n).astype("float32"))


def _wide_model(keras):
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((13, 11, 3)),
            L.Rescaling(2.0, offset=-1.0),
            L.Conv2D(8, 3, strides=2, padding="same", activation="relu"),  # asymmetric "same" padding
            L.BatchNormalization(),
            L.Conv2D(8, (3, 2), padding="same", dilation_rate=1, activation="tanh"),
            L.ReLU(),
            L.AveragePooling2D(2),
            L.Dropout(0.3),
            L.Conv2D(6, 1, activation="elu"),
            L.MaxPooling2D((1, 2)),
            L.Flatten(),
            L.Dense(16, activation="sigmoid"),
            L.Dense(5),
            L.Activation("softmax"),
        ]
    )
    _randomise_batch_norm(model)
    return model


def _keras_call(model, channels_first: bool = False):
    def call(x: torch.Tensor) -> torch.Tensor:
        return model(x.permute(0, 2, 3, 1) if channels_first else x, training=False)

    return call


def _grad(fn, x: torch.Tensor) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad((fn(x) * torch.arange(1.0, 6.0)).sum(), x)
    return g


def test_lowered_model_matches_keras_in_values_and_input_gradients(keras):
    model = _wide_model(keras)
    x = torch.rand(7, 13, 11, 3)
    lowered = lower(model)
    with torch.no_grad():
        np.testing.assert_allclose(lowered(x).numpy(), _keras_call(model)(x).numpy(), atol=1e-5)
    np.testing.assert_allclose(_grad(lowered, x).numpy(), _grad(_keras_call(model), x).numpy(), atol=1e-5)
    assert not list(lowered.parameters())  # weights are constants: no parameter gradients


def test_channels_first_input_skips_the_permutation(keras):
    model = _wide_model(keras)
    x = torch.rand(4, 3, 13, 11)
    lowered = lower(model, channels_first_input=True)
    with torch.no_grad():
        np.testing.assert_allclose(lowered(x).numpy(), _keras_call(model, True)(x).numpy(), atol=1e-5)


def test_channels_first_layers_flatten_in_keras_order(keras):
    L = keras.layers
    model = keras.Sequential(
        [
            keras.Input((2, 6, 5)),
            L.Conv2D(3, 3, data_format="channels_first", activation="relu"),
            L.MaxPooling2D(2, data_format="channels_first"),
            L.Flatten(data_format="channels_first"),
            L.Dense(4),
        ]
    )
    x = torch.rand(3, 2, 6, 5)
    with torch.no_grad():
        np.testing.assert_allclose(lower(model)(x).numpy(), model(x, training=False).numpy(), atol=1e-5)


def test_an_unforeseen_failure_while_lowering_keeps_keras(keras, monkeypatch):
    from feint.targets.adapters import keras_lower

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    reference = _keras_call(model)

    def broken(*args, **kwargs):
        raise AttributeError("'Dense' object has no attribute 'kernel'")

    monkeypatch.setattr(keras_lower, "lower", broken)
    module, how = keras_lower.lower_verified(model, reference, torch.rand(3, 4))
    assert module is reference and how.startswith("Keras (lowering failed: AttributeError")


def test_global_pooling_and_functional_chain(keras):
    L = keras.layers
    inp = keras.Input((9, 9, 2))
    h = L.Conv2D(4, 3, activation="relu")(inp)
    h = L.GlobalAveragePooling2D()(h)
    out = L.Dense(3)(h)
    model = keras.Model(inp, out)
    x = torch.rand(5, 9, 9, 2)
    with torch.no_grad():
        np.testing.assert_allclose(lower(model)(x).numpy(), model(x, training=False).numpy(), atol=1e-5)


def test_branching_and_unknown_layers_keep_keras_with_the_reason(keras):
    L = keras.layers
    inp = keras.Input((6,))
    h = L.Dense(6, activation="relu")(inp)
    out = L.Dense(2)(L.Add()([inp, h]))
    branching = keras.Model(inp, out)
    with pytest.raises(NotLowerable):
        lower(branching)
    reference = _keras_call(branching)
    module, how = lower_verified(branching, reference, torch.rand(4, 6))
    assert module is reference and how.startswith("Keras (")

    recurrent = keras.Sequential([keras.Input((5, 3)), L.LSTM(4), L.Dense(2)])
    module, how = lower_verified(recurrent, _keras_call(recurrent), torch.rand(2, 5, 3))
    assert "LSTM" in how


def test_lowering_that_disagrees_is_not_used(keras):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    reference = _keras_call(model)
    module, how = lower_verified(model, lambda x: reference(x) + 1.0, torch.rand(3, 4))
    assert "differs" in how and module is not None and not isinstance(module, torch.nn.Sequential)


def test_digits_model_runs_lowered_and_agrees_with_keras(digits_keras):
    target = digits_keras.ensure_loaded()
    assert target.describe()["runs_as"] == "torch, lowered from Keras"
    x = torch.as_tensor(target.X[:200])
    with torch.no_grad():
        fast, slow = target.torch_module()(x), target.keras_module(x)
    assert torch.equal(fast.argmax(1), slow.argmax(1))
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), atol=1e-4)


def test_a_saved_lowering_reads_back_identical_and_only_for_its_source(keras, tmp_path):
    from feint.targets.adapters import keras_lower

    model = _wide_model(keras)
    source = tmp_path / "m.keras"
    model.save(source)
    lowered = lower(model)
    key = keras_lower.source_key(source)
    saved = tmp_path / "m.lowered.npz"
    assert keras_lower.save(lowered, saved, key, {"input_shape": [13, 11, 3]})
    back, extra = keras_lower.load(saved, key)
    x = torch.rand(3, 13, 11, 3)
    with torch.no_grad():
        assert torch.equal(back(x), lowered(x))
    assert extra == {"input_shape": [13, 11, 3]}
    assert keras_lower.load(saved, "another source:1") is None  # the model file changed
    for damaged in (b"not an archive", b"", saved.read_bytes()[:100]):  # e.g. a crash mid-write
        saved.write_bytes(damaged)
        assert keras_lower.load(saved, key) is None
    assert keras_lower.load(tmp_path / "missing.npz", key) is None


def test_digits_model_loads_without_keras_once_lowered(digits_keras):
    import os
    import subprocess
    import sys

    digits_keras.ensure_loaded()  # trained and lowered in this session's FEINT_HOME
    code = (
        "import sys, feint; t = feint.get_target('digits_keras'); t.ensure_loaded(); "
        "print(t.describe()['runs_as'], 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "torch, lowered from Keras False"
