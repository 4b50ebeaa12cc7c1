"""protocol: gradio against a real Gradio app on 127.0.0.1: the two-step call (``/call/``
then its event stream) and the one-step path, rows counted by the app. Gradio is heavy
(the ``gradio`` extra); without it these tests skip."""

from __future__ import annotations

import os
import socket
import threading

import numpy as np
import pytest

gr = pytest.importorskip("gradio")

from feint.errors import FeintError  # noqa: E402
from feint.targets.adapters.http import EndpointError, HttpModel  # noqa: E402
from tests.targets.test_http import _no_proxy  # noqa: E402, F401 - the same autouse fixture: no proxy for 127.0.0.1

CLASSES = ["malignant", "benign"]
WHERE = "t.yaml: model.endpoint"


@pytest.fixture(scope="module")
def app():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    lr = LogisticRegression(max_iter=500).fit(x, data.target)
    seen = {"rows": 0}
    lock = threading.Lock()

    def probabilities(rows):  # a batch of rows in, their probabilities out
        batch = np.asarray(rows, np.float32)
        with lock:
            seen["rows"] += len(batch)
        return lr.predict_proba(batch).tolist()

    def label(row):  # one row in, Gradio's Label (class name to confidence) out
        with lock:
            seen["rows"] += 1
        p = lr.predict_proba(np.asarray([row], np.float32))[0]
        return {c: float(v) for c, v in zip(CLASSES, p)}

    with gr.Blocks() as demo:
        inp, out = gr.JSON(), gr.JSON()
        gr.Button().click(probabilities, inp, out, api_name="probabilities")
        one, lab = gr.JSON(), gr.Label()
        gr.Button().click(label, one, lab, api_name="label")
        gr.Button().click(lambda rows: 1 / 0, inp, out, api_name="broken")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", seen, x, lr
    demo.close()


def gradio(url: str, **cfg) -> HttpModel:
    return HttpModel.from_config(
        {"url": url, "protocol": "gradio", "retries": 0, "timeout": 20, **cfg}, WHERE, n_classes=2, classes=CLASSES
    )


@pytest.mark.parametrize("call", ["two-step", "one-step"])
def test_batches_through_gradio(app, call):
    url, seen, x, lr = app
    seen["rows"] = 0
    m = gradio(url, api_name="probabilities", call=call, batch_size=16)
    np.testing.assert_allclose(m.predict(x[:40]), lr.predict_proba(x[:40]), atol=1e-6)
    assert seen["rows"] == m.queries == 40
    assert m.requests == (6 if call == "two-step" else 3)  # the two-step call is two requests a batch


def test_a_label_output_row_by_row(app):
    url, seen, x, lr = app
    seen["rows"] = 0
    m = gradio(url, api_name="label", batch_size=1)
    np.testing.assert_allclose(m.predict(x[:5]), lr.predict_proba(x[:5]), atol=1e-4)
    assert seen["rows"] == m.queries == 5


def test_an_error_event_is_one_line(app):
    url, _, x, _ = app
    with pytest.raises(EndpointError, match=r"answered an error event") as err:
        gradio(url, api_name="broken").predict(x[:2])
    assert "\n" not in str(err.value)


def test_an_unknown_call_is_refused():
    with pytest.raises(FeintError, match=r"call expects one of two-step, one-step; got 'three'"):
        HttpModel.from_config({"url": "http://h", "protocol": "gradio", "call": "three"}, WHERE)


@pytest.fixture(scope="module")
def image_app():
    """A Gradio app whose function takes an image (gr.Image, grey) and answers a Label: a
    logistic regression on scikit-learn's 8x8 digits, the image's 0..255 mapped to 0..16."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    digits = load_digits()
    x = digits.images.astype(np.float32)  # values 0..16
    lr = LogisticRegression(max_iter=2000).fit(x.reshape(len(x), -1), digits.target)
    names = [str(c) for c in range(10)]
    seen = {"rows": 0, "images": []}
    lock = threading.Lock()

    def classify(image):
        pixels = np.asarray(image, np.float64)
        with lock:
            seen["rows"] += 1
            seen["images"].append(pixels)
        p = lr.predict_proba((pixels * 16 / 255).reshape(1, -1))[0]
        return {c: float(v) for c, v in zip(names, p)}

    with gr.Blocks() as demo:
        picture, label = gr.Image(type="numpy", image_mode="L"), gr.Label(num_top_classes=10)
        gr.Button().click(classify, picture, label, api_name="classify")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", seen, x, lr, names
    demo.close()


@pytest.mark.parametrize("call", ["two-step", "one-step"])
def test_images_go_to_a_gradio_image_input(image_app, call):
    url, seen, x, lr, names = image_app
    seen["rows"], seen["images"] = 0, []
    m = HttpModel.from_config(
        {"url": url, "protocol": "gradio", "api_name": "classify", "call": call, "encoding": "png", "timeout": 20},
        WHERE,
        n_classes=10,
        classes=names,
        bounds=(0.0, 16.0),
    )
    batch = x[:6, None]  # (6, 1, 8, 8), channels first
    sent = m.as_sent(batch)  # the 8-bit images the app decodes
    got = m.predict(batch)
    assert seen["rows"] == m.queries == 6 and m.requests == (12 if call == "two-step" else 6)
    received = sorted(a.astype(np.uint8).tobytes() for a in seen["images"])  # requests may run side by side
    assert received == sorted(np.round(s * 255 / 16).astype(np.uint8).tobytes() for s in sent[:, 0])
    np.testing.assert_allclose(got, lr.predict_proba(sent.reshape(6, -1)), atol=1e-6)


def test_an_image_app_from_the_command_line(image_app, tmp_path, monkeypatch, capsys):
    import json

    import yaml

    from feint.cli.app import main
    from feint.store.db import Store

    url, seen, x, lr, names = image_app
    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    np.savez(tmp_path / "digits.npz", X=x[:10, None], y=np.arange(10))
    endpoint = {"url": url, "protocol": "gradio", "api_name": "classify", "encoding": "png", "timeout": 20}
    doc = {
        "name": "gradio_digits",
        "data_type": "image",
        "input_shape": [1, 8, 8],
        "classes": names,
        "bounds": [0, 16],
        "samples": "digits.npz",
        "model": {"endpoint": endpoint},
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(doc))
    seen["rows"] = 0
    args = ["run", str(tmp_path / "t.yaml"), "hop_skip_jump", "-i", "0:2", "--json"]
    assert main([*args, "--set", "max_iter=2", "--set", "max_eval=30", "--set", "init_eval=10"]) == 0
    run = Store().get_run(json.loads(capsys.readouterr().out)["run_id"])
    assert seen["rows"] == run.forward_queries  # every image the app received, counted
    with np.load(f"{run.artifacts}/adversarial.npz") as f:
        x_adv = f["x_adv"]
    assert np.array_equal(np.round(x_adv * 255 / 16), x_adv * 255 / 16)  # on the 8-bit grid the app sees
    final = lr.predict_proba(x_adv.reshape(len(x_adv), -1)).argmax(1)
    assert [s.final_label for s in run.samples] == [names[k] for k in final]

    # an encoding that does not fit a Gradio image input: one line
    (tmp_path / "bad.yaml").write_text(
        yaml.safe_dump({**doc, "model": {"endpoint": {**endpoint, "encoding": "multipart"}}})
    )
    assert main(["predict", str(tmp_path / "bad.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "protocol gradio sends each image as Gradio's file data" in err
