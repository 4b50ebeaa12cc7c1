"""photos: patches of six real photographs and a small torch CNN whose weights ship with feint."""

import numpy as np
import pytest

import feint
from feint.data.photos import PHOTO_CLASSES, photo_patches
from feint.targets.builtin.photos import Photos


@pytest.fixture(scope="module")
def photos():
    return Photos().ensure_loaded()


def test_patches_are_seeded_colour_crops():
    x, y = photo_patches(3, 16, seed=5, augment=True)
    x2, y2 = photo_patches(3, 16, seed=5, augment=True)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert x.shape == (18, 3, 16, 16) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert sorted(np.bincount(y).tolist()) == [3] * len(PHOTO_CLASSES)
    assert not np.allclose(x[:, 0], x[:, 1])  # colour: the channels differ


def test_trained_network_tells_the_photos_apart_on_held_out_patches(photos):
    d = photos.describe()
    assert d["access"] == "open-box" and d["input_shape"] == [3, 32, 32] and d["bounds"] == [0.0, 1.0]
    assert d["classes"] == list(PHOTO_CLASSES) and d["samples"] == 300
    assert d["held_out_accuracy"] >= 0.9
    pred = photos.predict(photos.X).argmax(1)
    assert np.mean(pred == photos.y) == pytest.approx(d["held_out_accuracy"], abs=1e-6)


def test_shipped_weights_are_read_not_trained(photos):
    path = Photos.model_path()
    stamp = path.stat().st_mtime_ns
    again = Photos().ensure_loaded()
    assert path.stat().st_mtime_ns == stamp
    x = photos.get_samples(range(4))
    assert np.array_equal(again.predict(x), photos.predict(x))


def test_open_box_and_closed_box_attacks_turn_patches(photos):
    pgd = feint.get_attack("pgd")()
    pgd.update({"sample_index": "0:8", "eps": 0.1, "max_iter": 20})
    run = feint.execute_run(photos, pgd)
    assert run.successes >= 6
    assert all(s.linf <= 0.1 + 1e-6 for s in run.samples)
    assert all(s.euclid_pct is None for s in run.samples)  # an image target: no % Euclidean distance
    hsj = feint.get_attack("hop_skip_jump")()
    hsj.update({"sample_index": "0:4", "max_iter": 3, "max_eval": 100, "init_eval": 20})
    run = feint.execute_run(photos, hsj)
    assert run.successes >= 2 and all(s.gradient_queries == 0 for s in run.samples)


def test_initial_weights_are_seeded_and_leave_the_global_generator_alone():
    import torch

    from feint.targets.builtin.smallcnn import SmallCNN

    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    a, b = SmallCNN(6, seed=0).state_dict(), SmallCNN(6, seed=0).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(torch.random.get_rng_state(), state)
    c = SmallCNN(6, seed=1).state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)
