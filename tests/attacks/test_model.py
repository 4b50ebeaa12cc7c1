import numpy as np
import torch

from feint.attacks.model import CountedModel


def test_every_query_counts_per_sample(digits_keras):
    fwd, grad = np.zeros(4, np.int64), np.zeros(4, np.int64)
    log = []
    m = CountedModel(digits_keras, fwd, grad, np.array([10, 11, 12, 13]), log)
    x = torch.as_tensor(digits_keras.X[:4])
    m.logits(x)
    m.loss_grad(x[[1, 3]], lambda z: z[:, 0], rows=[1, 3])
    m.vjps(x[[2]], [torch.ones(1, 10), torch.ones(1, 10)], rows=[2])
    m.logits(x[[0, 0, 0]], rows=[0, 0, 0])  # three probes around sample 0
    assert fwd.tolist() == [4, 2, 2, 2]
    assert grad.tolist() == [0, 1, 2, 1]
    assert [e["kind"] for e in log] == ["forward", "forward", "gradient", "forward", "gradient", "forward"]
    assert log[1]["samples"] == [11, 13]


def test_closed_box_model_answers_with_log_probabilities(digits_blackbox):
    fwd, grad = np.zeros(2, np.int64), np.zeros(2, np.int64)
    m = CountedModel(digits_blackbox, fwd, grad)
    x = torch.as_tensor(digits_blackbox.X[:2])
    assert torch.equal(m.labels(x), torch.as_tensor(digits_blackbox.predict(digits_blackbox.X[:2]).argmax(1)))
    assert fwd.tolist() == [1, 1]
