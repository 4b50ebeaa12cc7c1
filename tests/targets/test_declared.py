"""YAML declarations: every kind of samples, preprocessing inside the model, the spec that
rebuilds a target, and one-line errors that name the key and what is accepted."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from feint.errors import FeintError
from tests.targets.own_models import CLASSES, built, cli, digits8, reference, scan_json


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def models():
    return built()


def _yaml(folder, name="t", **doc):
    base = {
        "name": name,
        "model": str(built() / "mlp.pt"),
        "data_type": "image",
        "input_shape": [1, 8, 8],
        "classes": CLASSES,
        "samples": str(built() / "digits.npz"),
    }
    base.update(doc)
    for k in [k for k, v in base.items() if v is None]:
        del base[k]
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))
    return path


def _error(capsys, path) -> str:
    rc, out, err = cli(capsys, "predict", path)
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_yaml_errors_are_one_line_naming_the_key(tmp_path, home, capsys):
    err = _error(capsys, _yaml(tmp_path, "missing", classes=None))
    assert "missing.yaml: missing key 'classes'; required: name, model, data_type, classes, samples" in err
    err = _error(capsys, _yaml(tmp_path, "unknown", labels=["a", "b"]))
    assert "unknown.yaml: unknown key 'labels'; accepted keys: name, model" in err and "preprocess" in err
    err = _error(capsys, _yaml(tmp_path, "shape", input_shape="8x8"))
    assert "shape.yaml: input_shape: expects a list of positive integers; got '8x8'" in err
    err = _error(capsys, _yaml(tmp_path, "bounds", bounds=[1, 0]))
    assert "bounds: expects [lo, hi], two numbers with lo < hi; got [1, 0]" in err
    err = _error(capsys, _yaml(tmp_path, "dtype", data_type="audio"))
    assert "data_type: expects one of image, tabular, text; got 'audio'" in err
    err = _error(capsys, _yaml(tmp_path, "csvfile", samples={"csv": "nowhere.csv", "label": "Class"}))
    assert f"csvfile.yaml: samples.csv: file not found: {tmp_path / 'nowhere.csv'}" in err
    err = _error(capsys, _yaml(tmp_path, "modelfile", model="gone.onnx"))
    assert "modelfile.yaml: model: file not found:" in err
    err = _error(capsys, _yaml(tmp_path, "pre", preprocess={"mean": [0.1, 0.2]}))
    assert "preprocess.mean: expects a number or a list of 1 numbers (one per channel)" in err
    err = _error(capsys, _yaml(tmp_path, "prekey", preprocess={"center": 1}))
    assert "preprocess: unknown key 'center'; accepted keys: scale, mean, std" in err
    err = _error(capsys, _yaml(tmp_path, "range", bounds=[0, 0.5]))
    assert "outside bounds [0, 0.5]" in err
    err = _error(capsys, _yaml(tmp_path, "labels", classes=["a", "b", "c"]))
    assert "labels.yaml: samples.y: label 3 is outside the classes; accepted: 0 to 2" in err
    np.save(tmp_path / "x.npy", digits8(5)[0])
    err = _error(capsys, _yaml(tmp_path, "nclasses", classes=["a", "b", "c"], samples="x.npy"))
    assert "classes: the model returns scores of shape [10]" in err and "classes names 3" in err
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    assert "broken.yaml: not valid YAML" in _error(capsys, tmp_path / "broken.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert "list.yaml: expects a mapping of keys" in _error(capsys, tmp_path / "list.yaml")
    assert "target file not found" in _error(capsys, tmp_path / "absent.yaml")
    rc, _, err = cli(capsys, "scan", "no_such_target", "-a", "pgd")
    assert rc == 2 and "unknown target 'no_such_target'" in err and "FILE.yaml" in err


def test_spec_rebuilds_and_describe_says_where_from(models, tmp_path, home):
    from feint.targets import get_target

    path = _yaml(tmp_path, "described", description="my digits")
    target = get_target(str(path), load=False)
    assert target.spec == str(path.resolve()) and not target._loaded  # declared, not loaded yet
    assert target.open_box  # known from the extension, before loading
    d = get_target(target.spec).describe()
    assert d["source"] == str(path.resolve()) and d["model"] == str(models / "mlp.pt")
    assert d["adapter"] == "torchscript" and d["samples"] == 40 and d["sample_accuracy"] > 0.8
    assert get_target("digits_keras", load=False).spec == "digits_keras"


def test_preprocess_runs_inside_the_model(tmp_path, home, capsys):
    """A model trained on 0..16 pixel values, attacked in [0, 1] with scale 16 applied inside it."""
    import torch

    from feint.targets import get_target

    net = reference("net")

    class Sixteen(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):  # expects (x * 16 - 2) / 0.5 * ... undone here: recovers the [0, 1] digits
            return self.net((x * 0.5 + 2.0) / 16.0)

    torch.jit.save(torch.jit.script(Sixteen()), str(tmp_path / "sixteen.pt"))
    path = _yaml(tmp_path, "sixteen", model="sixteen.pt", preprocess={"scale": 16, "mean": 2, "std": 0.5})
    target = get_target(str(path))
    x = target.X[:4]
    with torch.no_grad():
        expected = torch.softmax(net(torch.as_tensor(x)), 1).numpy()
    np.testing.assert_allclose(target.predict(x), expected, atol=1e-5)
    assert target.describe()["preprocess"] == {"scale": 16.0, "mean": [2.0], "std": [0.5]}
    doc = scan_json(capsys, path, "-a", "pgd", "-i", "0:5", "--set", "max_iter=5", "--set", "eps=0.2")
    assert doc["runs"][0]["successes"] >= 1
    assert all(s["linf"] <= 0.2 + 1e-5 for s in doc["runs"][0]["samples"])  # in the raw [0, 1] space


def test_csv_samples_with_label_column(tmp_path, home):
    from feint.targets import get_target

    x, y = digits8(12)
    header = ",".join([f"p{i}" for i in range(64)] + ["Class"])
    lines = [header] + [",".join([f"{v:.6f}" for v in row] + [CLASSES[c]]) for row, c in zip(x.reshape(12, -1), y)]
    (tmp_path / "digits.csv").write_text("\n".join(lines) + "\n")
    path = _yaml(tmp_path, "csv", samples={"csv": "digits.csv", "label": "Class"})
    target = get_target(str(path))
    assert target.X.shape == (12, 1, 8, 8) and list(target.y) == list(y)
    np.testing.assert_allclose(target.X, x, atol=1e-6)
    bad = _yaml(tmp_path, "csvlabel", samples={"csv": "digits.csv", "label": "label"})
    with pytest.raises(FeintError, match=r"samples.label: digits.csv has no column 'label'; columns: p0, p1"):
        get_target(str(bad))


def test_tabular_target_from_csv(tmp_path, home, capsys):
    """A tabular model (ONNX, closed-box) on CSV rows with string labels."""
    import torch

    from feint.targets import get_target

    rng = np.random.default_rng(0)
    feats = rng.uniform(-1, 1, size=(30, 4)).astype(np.float32)
    labels = np.where(feats[:, 0] + feats[:, 1] > 0, "high", "low")
    rows = ["a,b,c,d,kind"] + [",".join([*map(str, r), lab]) for r, lab in zip(feats, labels)]
    (tmp_path / "rows.csv").write_text("\n".join(rows))
    lin = torch.nn.Linear(4, 2)
    with torch.no_grad():
        lin.weight[:] = torch.tensor([[-5.0, -5.0, 0, 0], [5.0, 5.0, 0, 0]])  # logits: low, high
        lin.bias.zero_()
    torch.onnx.export(
        lin,
        (torch.zeros(1, 4),),
        str(tmp_path / "lin.onnx"),
        dynamo=False,
        input_names=["x"],
        dynamic_axes={"x": {0: "n"}},
    )
    path = _yaml(
        tmp_path,
        "rows",
        model="lin.onnx",
        data_type="tabular",
        input_shape=[4],
        classes=["low", "high"],
        bounds=[-1, 1],
        samples={"csv": "rows.csv", "label": "kind"},
    )
    target = get_target(str(path))
    assert target.describe()["sample_accuracy"] == 1.0  # logits were turned into probabilities
    p = target.predict(target.X[:3])
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    doc = scan_json(
        capsys,
        path,
        "-a",
        "hop_skip_jump",
        "-i",
        "0:3",
        "--set",
        "max_eval=50",
        "--set",
        "max_iter=2",
        "--set",
        "init_eval=10",
    )
    assert doc["runs"][0]["successes"] >= 1


def test_image_folder_samples(tmp_path, home):
    from PIL import Image

    from feint.targets import get_target

    x, y = digits8(6)
    for i, (img, label) in enumerate(zip(x, y)):
        folder = tmp_path / "images" / CLASSES[label]
        folder.mkdir(parents=True, exist_ok=True)
        big = Image.fromarray((img[0] * 255).astype(np.uint8)).resize((16, 16), Image.NEAREST)
        big.save(folder / f"{i}.png")
    target = get_target(str(_yaml(tmp_path, "images", samples="images")))
    assert target.X.shape == (6, 1, 8, 8) and 0 <= target.X.min() and target.X.max() <= 1
    assert sorted(target.y.tolist()) == sorted(y.tolist())
    (tmp_path / "images" / "cat").mkdir()
    with pytest.raises(FeintError, match=r"sub-folder 'cat' is not a class; accepted: 0, 1, 2"):
        get_target(str(_yaml(tmp_path, "images2", samples={"images": "images"})))


def test_npz_keys_and_npy(tmp_path, home):
    from feint.targets import get_target

    x, y = digits8(5)
    np.savez(tmp_path / "named.npz", inputs=x.reshape(5, 64) * 255, truth=np.array(CLASSES)[y])
    path = _yaml(
        tmp_path,
        "named",
        samples={"npz": "named.npz", "x": "inputs", "y": "truth"},
        bounds=[0, 255],
        preprocess={"scale": 1 / 255},
    )
    target = get_target(str(path))
    assert target.X.shape == (5, 1, 8, 8) and list(target.y) == list(y)
    assert target.describe()["sample_accuracy"] == 1.0
    with pytest.raises(FeintError, match=r"samples.x: named.npz has no array 'X'; arrays in the file: inputs, truth"):
        get_target(str(_yaml(tmp_path, "named2", samples={"npz": "named.npz", "x": "X"})))
    np.save(tmp_path / "plain.npy", x)
    assert get_target(str(_yaml(tmp_path, "plain", samples="plain.npy"))).y is None


def test_endpoint_is_dispatched_to_the_http_adapter(tmp_path, home, monkeypatch):
    """``model: {endpoint: ...}`` goes to feint.targets.adapters.http, its requests to a stand-in transport."""
    import json

    from feint.targets import get_target
    from feint.targets.adapters.http import HttpModel, Response

    calls = []

    class Answers3:
        def send(self, method, url, headers, body, timeout):
            rows = json.loads(body)["inputs"]
            calls.append((url, len(rows)))
            return Response(200, json.dumps(np.tile(np.eye(10)[3], (len(rows), 1)).tolist()).encode())

    monkeypatch.setattr(HttpModel, "default_transport", Answers3)
    target = get_target(str(_yaml(tmp_path, "remote", model={"endpoint": {"url": "http://model.local/predict"}})))
    assert not target.open_box and target.describe()["adapter"] == "http"
    assert target.describe()["model"] == "http://model.local/predict"
    assert target.outputs_to_labels(target.predict(target.X[:2])) == ["3", "3"]
    assert calls[-1] == ("http://model.local/predict", 2)
    with pytest.raises(FeintError, match=r"nourl.yaml: model.endpoint needs the key 'url'"):
        get_target(str(_yaml(tmp_path, "nourl", model={"endpoint": {"timeout": 3}})))


def test_list_targets_keeps_builtins_and_help_warns(capsys):
    rc, out, _ = cli(capsys, "list", "targets", "--json")
    import json

    names = [t["name"] for t in json.loads(out)["targets"]]
    assert rc == 0 and "digits_keras" in names and "digits_blackbox" in names
    from feint.cli.app import build_parser

    for command in ("run", "scan", "predict"):
        sub = build_parser()._subparsers._group_actions[0].choices[command]
        text = " ".join(sub.format_help().split())
        assert "loading it runs its code" in text and "--trust-model" in text


COUNTERFIT = __import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data" / "counterfit"


@pytest.mark.skipif(
    not (COUNTERFIT / "satellite_images_airplane_stadium_196608.npz").exists(),
    reason="Counterfit's satellite file is not beside the repository",
)
def test_counterfit_satellite_file_as_samples(tmp_path, home):
    """Counterfit's own npz (flat uint8 rows, class names as labels) read for a declared model
    that takes channels-last input in [0, 1]."""
    import torch

    from feint.targets import get_target

    class Colour(torch.nn.Module):
        def forward(self, x):  # (N, H, W, 3) in [0, 1]: airplane scores red, stadium green
            m = x.mean(dim=(1, 2))
            return torch.stack([m[:, 0] * 4, m[:, 1] * 4], dim=1)

    torch.jit.save(torch.jit.script(Colour()), str(tmp_path / "colour.pt"))
    path = _yaml(
        tmp_path,
        "satellite_own",
        model="colour.pt",
        input_shape=[3, 256, 256],
        classes=["airplane", "stadium"],
        bounds=[0, 255],
        channels="last",
        preprocess={"scale": 1 / 255},
        samples=str(COUNTERFIT / "satellite_images_airplane_stadium_196608.npz"),
    )
    target = get_target(str(path))
    raw = np.load(COUNTERFIT / "satellite_images_airplane_stadium_196608.npz")["X"]
    assert target.X.shape == (10, 3, 256, 256) and target.y.tolist() == [0] * 5 + [1] * 5
    np.testing.assert_array_equal(target.X[3], raw[3].reshape(3, 256, 256).astype(np.float32))
    mean = raw.reshape(10, 3, -1).mean(axis=2) / 255 * 4
    expected = np.exp(mean[:, :2]) / np.exp(mean[:, :2]).sum(1, keepdims=True)
    np.testing.assert_allclose(target.predict(target.X), expected, atol=1e-4)
