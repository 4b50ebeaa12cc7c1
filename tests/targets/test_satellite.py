"""satellite: trained on the images the user gives (Counterfit's .npz or class folders);
without images, one line saying what to provide."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import feint
from feint.cli.app import main
from feint.errors import FeintError
from feint.targets.builtin.satellite import Satellite

COUNTERFIT = Path(__file__).resolve().parents[3] / "shared" / "data" / "counterfit"
NPZ = COUNTERFIT / "satellite_images_airplane_stadium_196608.npz"
needs_npz = pytest.mark.skipif(not NPZ.is_file(), reason=f"Counterfit's satellite npz is not at {NPZ}")


def test_without_images_it_refuses_in_one_line_and_still_lists(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path))
    monkeypatch.delenv("FEINT_SATELLITE_DATA", raising=False)
    with pytest.raises(FeintError, match="needs images.*FEINT_SATELLITE_DATA.*no satellite image set ships"):
        Satellite().ensure_loaded()
    monkeypatch.setenv("FEINT_SATELLITE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FeintError, match="does not exist"):
        Satellite().ensure_loaded()
    assert main(["list", "targets", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)["targets"]}
    assert listed["satellite"]["input_shape"] == [3, 256, 256]
    assert listed["satellite"]["classes"] == ["airplane", "stadium"]


@needs_npz
def test_trains_on_counterfits_npz_and_is_attacked(monkeypatch):
    monkeypatch.setenv("FEINT_SATELLITE_DATA", str(NPZ))
    target = Satellite().ensure_loaded()
    with np.load(NPZ) as f:
        raw, labels = f["X"], f["y"]
    assert target.X.shape == (10, 3, 256, 256) and target.X.dtype == np.float32
    assert np.allclose(target.X.reshape(10, -1) * 255.0, raw, atol=1e-3)  # channels first, /255
    assert [target.output_classes[i] for i in target.y] == labels.tolist()
    d = target.describe()
    assert d["access"] == "open-box" and d["trained_on"] == 10 and "none held out" in d["samples_from"]
    assert d["train_accuracy"] >= 0.8
    pgd = feint.get_attack("pgd")()
    pgd.update({"sample_index": "0:10", "eps": 0.05, "max_iter": 10})
    run = feint.execute_run(target, pgd)
    assert run.successes >= 1 and all(s.linf <= 0.05 + 1e-6 for s in run.samples)
    # the weights are cached per data set and reused
    models = list(Path(d["model"]).parent.glob("satellite-*.pt"))
    assert Path(d["model"]) in models
    again = Satellite().ensure_loaded()
    assert again.info["model"] == d["model"]
    assert np.allclose(again.predict(target.X[:2]), target.predict(target.X[:2]), atol=1e-6)


@needs_npz
def test_reads_one_folder_per_class(monkeypatch, tmp_path):
    with np.load(NPZ) as f:
        raw, labels = f["X"], f["y"]
    for i in (0, 1, 5, 6):
        folder = tmp_path / "images" / labels[i]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(raw[i].reshape(3, 256, 256).transpose(1, 2, 0)).save(folder / f"{i}.png")
    monkeypatch.setenv("FEINT_SATELLITE_DATA", str(tmp_path / "images"))
    from feint.data.satellite import load_satellite

    x, y, classes = load_satellite()
    assert classes == ("airplane", "stadium") and y.tolist() == [0, 0, 1, 1]
    assert np.allclose(x.reshape(4, -1) * 255.0, raw[[0, 1, 5, 6]], atol=1e-3)
    (tmp_path / "one" / "airplane").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "one" / "airplane" / "a.png")
    monkeypatch.setenv("FEINT_SATELLITE_DATA", str(tmp_path / "one"))
    with pytest.raises(FeintError, match="1 class.*at least two sub-folders"):
        load_satellite()


def test_a_wrong_npz_is_named(monkeypatch, tmp_path):
    path = tmp_path / "sat.npz"
    np.savez(path, X=np.zeros((2, 100), np.uint8), y=np.array(["airplane", "stadium"]))
    monkeypatch.setenv("FEINT_SATELLITE_DATA", str(path))
    with pytest.raises(FeintError, match=r"shape \(2, 100\).*accepted: X N x 196608"):
        Satellite().ensure_loaded()
