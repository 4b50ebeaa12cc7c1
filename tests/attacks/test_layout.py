"""The channels-last copy an image model's queries run through (feint.attacks.layout)."""

import numpy as np
import pytest
import torch

from feint.attacks.layout import ChannelsLast, query_module
from feint.attacks.model import CountedModel


def queried_modules(target) -> list[torch.nn.Module]:
    """The modules a target's rows go through: its own (its predict) and, where attacks
    query one, the channels-last copy."""
    module = target.torch_module()
    if module is None:
        return []
    queried = query_module(module, target.input_shape, tuple(target.bounds))
    return [module] if queried is module else [module, queried]


class SmallCNN(torch.nn.Module):
    def __init__(self, flatten: str = "flatten"):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.fc = torch.nn.Linear(8 * 6 * 6, 4)
        self.flatten = flatten

    def forward(self, x):
        h = torch.relu(self.conv(x))
        # .view needs channels-first memory: in channels-last it raises
        h = h.view(len(h), -1) if self.flatten == "view" else h.flatten(1)
        return self.fc(h)


def test_a_conv_model_gets_a_channels_last_copy_that_answers_alike():
    module = SmallCNN().eval()
    fast = query_module(module, (3, 8, 8), (0.0, 1.0))
    assert isinstance(fast, ChannelsLast) and fast is not module
    assert module.conv.weight.is_contiguous()  # the target's own module is left as it is
    x = torch.rand(5, 3, 8, 8, requires_grad=True)
    assert torch.allclose(fast(x), module(x), atol=1e-5)
    (g_fast,) = torch.autograd.grad(fast(x).sum(), x)
    (g_plain,) = torch.autograd.grad(module(x).sum(), x)
    assert torch.allclose(g_fast, g_plain, atol=1e-5)
    assert query_module(module, (3, 8, 8), (0.0, 1.0)) is fast  # made once per module


def test_a_model_that_fails_channels_last_is_queried_as_it_is():
    module = SmallCNN("view").eval()
    assert query_module(module, (3, 8, 8), (0.0, 1.0)) is module


def test_a_model_without_convolutions_keeps_its_module():
    mlp = torch.nn.Sequential(torch.nn.Linear(6, 3))
    assert query_module(mlp, (6,), (0.0, 1.0)) is mlp


def test_the_digits_cnn_answers_and_counts_alike_through_its_copy(digits_keras):
    fwd, grad = np.zeros(8, np.int64), np.zeros(8, np.int64)
    model = CountedModel(digits_keras, fwd, grad)
    assert isinstance(model.module, ChannelsLast)
    x = torch.as_tensor(digits_keras.X[:8])
    want = torch.as_tensor(np.asarray(digits_keras.predict(digits_keras.X[:8])))
    assert torch.equal(model.labels(x), want.argmax(1))
    z, g = model.loss_grad(x, lambda z: z[:, 0])
    plain = digits_keras.torch_module()
    xr = x.clone().requires_grad_(True)
    (g_plain,) = torch.autograd.grad(plain(xr)[:, 0].sum(), xr)
    assert torch.allclose(g, g_plain, atol=1e-4)
    assert fwd.tolist() == [2] * 8 and grad.tolist() == [1] * 8


@pytest.mark.parametrize("bad", ["0", "off", "false"])
def test_the_switch_turns_the_copy_off(monkeypatch, bad):
    monkeypatch.setenv("FEINT_CHANNELS_LAST", bad)
    cnn = SmallCNN().eval()
    assert query_module(cnn, (3, 8, 8), (0.0, 1.0)) is cnn
