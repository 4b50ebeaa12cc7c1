"""Endpoint protocols, answer readers, labels-only answers and image encodings, against
real servers on 127.0.0.1: FastAPI apps under uvicorn (the packages users serve models
with) that answer as KServe v2, MLflow's scoring server, Hugging Face pipelines and image
APIs do, each counting the rows it is sent."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from feint.errors import FeintError  # noqa: E402
from feint.targets.adapters.http import EndpointError, HttpModel  # noqa: E402
from tests.targets.endpoint_apps import Seen, Served, image_app, tabular_app  # noqa: E402
from tests.targets.test_http import _no_proxy  # noqa: E402, F401 - the same autouse fixture: no proxy for 127.0.0.1

WHERE = "t.yaml: model.endpoint"
CLASSES = ["malignant", "benign"]


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    columns = [name.replace(" ", "_") for name in data.feature_names]
    return x, data.target.astype(np.int64), LogisticRegression(max_iter=500).fit(x, data.target), columns


@pytest.fixture(scope="module")
def tabular(cancer):
    seen = Seen()
    served = Served(tabular_app(cancer[2], cancer[3], CLASSES, seen))
    served.seen = seen
    yield served
    served.stop()


@pytest.fixture()
def seen(tabular):
    tabular.seen.rows = tabular.seen.requests = 0
    return tabular.seen


def endpoint(url: str, classes=CLASSES, **cfg) -> HttpModel:
    return HttpModel.from_config(
        {"url": url, "retries": 0, "timeout": 10, **cfg}, WHERE, n_classes=len(classes), classes=classes
    )


# -- protocols -------------------------------------------------------------------------
def test_kserve_v2_sends_one_request_per_batch_and_reads_the_output_by_shape(tabular, seen, cancer):
    x, _, lr, _ = cancer
    m = endpoint(f"{tabular.url}/v2/models/cancer/infer", protocol="kserve-v2", output_name="predict_proba")
    np.testing.assert_allclose(m.predict(x[:70]), lr.predict_proba(x[:70]), atol=1e-6)
    assert (seen.requests, seen.rows) == (3, 70) == (m.requests, m.queries)  # batches of 32, not rows


def test_kserve_v2_labels_only_answers_are_one_hot_rows(tabular, seen, cancer):
    x, _, lr, _ = cancer
    m = endpoint(f"{tabular.url}/v2/models/cancer/infer", protocol="kserve-v2", outputs="labels")
    assert m.outputs == "labels"
    out = m.predict(x[:40])
    assert set(np.unique(out)) <= {0.0, 1.0} and (out.sum(1) == 1).all()
    np.testing.assert_array_equal(out.argmax(1), lr.predict(x[:40]))
    assert seen.rows == m.queries == 40


def test_kserve_v2_names_a_missing_output():
    transport_answer = {"outputs": [{"name": "predict", "shape": [1, 1], "datatype": "INT64", "data": [1]}]}

    class One:
        def send(self, method, url, headers, body, timeout):
            from feint.targets.adapters.http import Response

            return Response(200, json.dumps(transport_answer).encode())

    m = HttpModel.from_config(
        {"url": "http://m.test/infer", "protocol": "kserve-v2", "output_name": "probs"},
        WHERE,
        n_classes=2,
        transport=One(),
    )
    with pytest.raises(EndpointError, match=r"without the output 'probs' \(output_name\); its outputs: predict: "):
        m.predict(np.zeros((1, 30)))


def test_tf_serving_instances_and_predictions(tabular, seen, cancer):
    x, _, lr, _ = cancer
    m = endpoint(f"{tabular.url}/v1/models/cancer:predict", protocol="tf-serving", batch_size=1)
    np.testing.assert_allclose(m.predict(x[:3]), lr.predict_proba(x[:3]), atol=1e-6)  # a list of one row each
    assert seen.rows == m.queries == seen.requests == 3


@pytest.mark.parametrize("call, requests", [("two-step", 6), ("one-step", 3)])
def test_gradio_routes_two_step_and_one_step(tabular, seen, cancer, call, requests):
    x, _, lr, _ = cancer
    m = endpoint(tabular.url, protocol="gradio", call=call, batch_size=10)
    np.testing.assert_allclose(m.predict(x[:30]), lr.predict_proba(x[:30]), atol=1e-6)
    assert seen.rows == m.queries == 30 and m.requests == requests  # two-step: a POST and a GET a batch


def test_gradio_error_events_and_missing_event_ids():
    from feint.targets.adapters.http import Response

    class Scripted:
        def __init__(self, *answers):
            self.answers, self.sent = list(answers), []

        def send(self, method, url, headers, body, timeout):
            self.sent.append((method, url))
            return self.answers.pop(0)

    cfg = {"url": "http://g.test/", "protocol": "gradio", "api_name": "classify", "retries": 0}
    t = Scripted(Response(200, b'{"event_id": "abc"}'), Response(200, b'event: error\ndata: "ValueError: bad row"\n\n'))
    with pytest.raises(
        EndpointError, match=r'^endpoint http://g.test/ answered an error event: "ValueError: bad row"$'
    ):
        HttpModel.from_config(cfg, WHERE, n_classes=2, transport=t).predict(np.zeros((1, 3)))
    assert t.sent == [
        ("POST", "http://g.test/gradio_api/call/classify"),
        ("GET", "http://g.test/gradio_api/call/classify/abc"),
    ]
    t = Scripted(Response(200, b'{"detail": "queue full"}'))
    with pytest.raises(EndpointError, match=r"answered HTTP 200 without an event_id: \{\"detail\": \"queue full\"\}"):
        HttpModel.from_config(cfg, WHERE, n_classes=2, transport=t).predict(np.zeros((1, 3)))
    t = Scripted(Response(200, b'{"event_id": "abc"}'), Response(200, b"event: heartbeat\ndata: null\n\n"))
    with pytest.raises(EndpointError, match=r"an event stream without a complete event"):
        HttpModel.from_config(cfg, WHERE, n_classes=2, transport=t).predict(np.zeros((1, 3)))


@pytest.mark.parametrize(
    "cfg, expected",
    [
        ({"protocol": "triton"}, r"protocol expects one of template, kserve-v2, tf-serving, kserve-v1, mlflow, gradio"),
        ({"protocol": "mlflow", "mlflow_format": "split"}, r"mlflow_format expects one of dataframe_split, inputs"),
        ({"protocol": "kserve-v2", "probabilities": "outputs"}, r"not read by protocol kserve-v2, .*set output_name"),
        ({"protocol": "kserve-v2", "output_name": ""}, r"output_name expects a tensor name"),
        ({"protocol": "gradio", "api_name": "a b"}, r"api_name expects a Gradio function name"),
        ({"columns": "a,b"}, r"columns expects a list of column names"),
        ({"encoding": "jpeg", "jpeg_quality": 0}, r"jpeg_quality expects an integer from 1 to 100"),
        ({"outputs": "labels"}, r"outputs labels needs the target's classes"),
        ({"encoding": "base64-png", "protocol": "mlflow", "columns": ["a"]}, r"fits protocol template, tf-serving"),
    ],
)
def test_protocol_mistakes_name_the_key_and_what_is_accepted(cfg, expected):
    with pytest.raises(FeintError, match=expected) as err:
        HttpModel.from_config({"url": "http://h/p", **cfg}, WHERE)
    assert str(err.value).startswith(WHERE) and "\n" not in str(err.value)


@pytest.mark.parametrize("fmt", ["dataframe_split", "inputs", "instances"])
def test_mlflow_labels_only_with_the_columns_filled_in(tabular, seen, cancer, fmt):
    x, _, lr, columns = cancer
    m = HttpModel.from_config(
        {"url": f"{tabular.url}/invocations", "protocol": "mlflow", "mlflow_format": fmt, "outputs": "labels"},
        WHERE,
        n_classes=2,
        classes=CLASSES,
        columns=columns,  # what CSV samples' header gives
    )
    np.testing.assert_array_equal(m.predict(x[:50]).argmax(1), lr.predict(x[:50]))
    assert seen.rows == m.queries == 50 and seen.requests == 2


def test_mlflow_columns_from_the_yaml_and_wrong_ones_are_the_servers_400(tabular, cancer):
    x, _, _, columns = cancer
    url = f"{tabular.url}/invocations"
    ok = endpoint(url, protocol="mlflow", outputs="labels", columns=columns)
    assert ok.predict(x[:3]).shape == (3, 2)
    wrong = endpoint(url, protocol="mlflow", outputs="labels", columns=[f"f{i}" for i in range(30)])
    with pytest.raises(EndpointError, match="answered HTTP 400: .*columns do not match"):
        wrong.predict(x[:3])
    with pytest.raises(FeintError, match=r"dataframe_split needs the feature names: a columns list, or CSV samples"):
        endpoint(url, protocol="mlflow")


# -- readers ---------------------------------------------------------------------------
def test_per_row_objects_through_a_wildcard_path(tabular, seen, cancer):
    x, _, lr, _ = cancer
    m = endpoint(f"{tabular.url}/objects", probabilities="predictions.*.probs")
    np.testing.assert_allclose(m.predict(x[:40]), lr.predict_proba(x[:40]), atol=1e-6)
    with pytest.raises(
        EndpointError, match=r"rows that are objects .*: pick the scores with a path ending in \*\.probs"
    ):
        endpoint(f"{tabular.url}/objects", probabilities="predictions").predict(x[:2])
    labels = endpoint(f"{tabular.url}/objects", probabilities="predictions.*.label", outputs="labels")
    np.testing.assert_array_equal(labels.predict(x[:5]).argmax(1), lr.predict(x[:5]))
    assert seen.rows == 47


def test_maps_keyed_by_class_name_are_put_in_the_targets_order(tabular, cancer):
    x, _, lr, _ = cancer
    m = endpoint(f"{tabular.url}/keyed")  # the server lists benign first
    np.testing.assert_allclose(m.predict(x[:10]), lr.predict_proba(x[:10]), atol=1e-6)
    np.testing.assert_allclose(m.predict(x[:1]), lr.predict_proba(x[:1]), atol=1e-6)  # one row stands alone
    other = endpoint(f"{tabular.url}/keyed", classes=["cat", "dog"])
    with pytest.raises(EndpointError, match=r"the label 'benign', which names no class; the classes are cat, dog"):
        other.predict(x[:2])


def test_class_names_as_labels(tabular, cancer):
    x, _, lr, _ = cancer
    m = endpoint(f"{tabular.url}/names", probabilities="labels", outputs="labels")
    np.testing.assert_array_equal(m.predict(x[:9]).argmax(1), lr.predict(x[:9]))
    scores = endpoint(f"{tabular.url}/names", probabilities="labels")
    with pytest.raises(
        EndpointError, match=r"non-numeric values at 'labels' \(an answer of labels needs outputs: labels"
    ):
        scores.predict(x[:2])


def test_columns_keyed_by_class_and_top_k_rows():
    from feint.targets.adapters.http_codecs import ReadError, read_scores

    got = read_scores({"a": [0.2, 0.9], "b": [0.8, 0.1]}, 2, ["b", "a"], 2, False, "p")
    np.testing.assert_allclose(got, [[0.8, 0.2], [0.1, 0.9]])
    # top-2 of 4: the rest of the mass is spread over the classes not named
    top = read_scores([[{"label": "c", "score": 0.6}, {"label": "a", "score": 0.2}]], 1, list("abcd"), 4, False, "p")
    np.testing.assert_allclose(top, [[0.2, 0.1, 0.6, 0.1]])
    with pytest.raises(ReadError, match="scores for 2 of 4 classes in row 0"):
        read_scores([[{"label": "c", "score": 3.0}, {"label": "a", "score": 1.0}]], 1, list("abcd"), 4, True, "p")
    from feint.targets.adapters.http_codecs import read_labels

    one_hot = read_labels(["benign", 0, [1], {"label": "malignant"}, "1", 1.0], 6, CLASSES, 2, "p")
    np.testing.assert_array_equal(one_hot.argmax(1), [1, 0, 1, 0, 1, 1])
    with pytest.raises(ReadError, match=r"the label 'cat', which names no class; the classes are malignant, benign"):
        read_labels(["cat"], 1, CLASSES, 2, "p")
    with pytest.raises(ReadError, match=r"the label 2, which names no class"):
        read_labels([2], 1, CLASSES, 2, "p")
    gradio_label = {"label": "b", "confidences": [{"label": "b", "confidence": 0.7}, {"label": "a", "confidence": 0.3}]}
    np.testing.assert_allclose(read_scores(gradio_label, 1, ["a", "b"], 2, False, "p"), [[0.3, 0.7]])


# -- images ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)  # (N, 8, 8) in 0..1
    lr = LogisticRegression(max_iter=2000).fit(x.reshape(len(x), -1), d.target)
    return x[:, None], d.target, lr  # channels first: (N, 1, 8, 8)


@pytest.fixture(scope="module")
def images(digits):
    seen = Seen()
    served = Served(image_app(digits[2], [str(i) for i in range(10)], seen))
    served.seen = seen
    yield served
    served.stop()


DIGITS = [str(i) for i in range(10)]


@pytest.mark.parametrize(
    "path, cfg",
    [
        ("raw", {"encoding": "png"}),
        ("raw", {"encoding": "jpeg"}),
        ("b64", {"encoding": "base64-png", "body": {"images": "$inputs"}, "probabilities": "results"}),
        ("b64", {"encoding": "base64-jpeg", "body": {"images": "$inputs"}, "probabilities": "results"}),
        ("upload", {"encoding": "multipart", "field": "file", "batch_size": 8}),
    ],
)
def test_encoded_images_are_what_the_server_decodes_and_classifies(images, digits, path, cfg):
    x, _, lr = digits
    images.seen.rows, images.seen.images = 0, []
    m = endpoint(f"{images.url}/{path}", classes=DIGITS, concurrency=1, **cfg)  # in order, as the server saw them
    batch = x[:12] + np.float32(0.3 / 255)  # off the 8-bit grid: the encoding rounds it
    probs = m.predict(batch)
    sent = m.as_sent(batch)
    served = np.stack(images.seen.images)[:, None].astype(np.float32)
    np.testing.assert_allclose(sent, served, atol=1e-6)  # as_sent is what the server decoded
    np.testing.assert_allclose(probs, lr.predict_proba(served.reshape(12, -1)), atol=1e-6)
    if cfg["encoding"].endswith("png") or cfg["encoding"] == "multipart":
        np.testing.assert_allclose(sent, np.rint(batch * 255) / 255, atol=1e-6)  # PNG: the quantisation only
    assert images.seen.rows == m.queries == 12
    assert m.requests == (2 if path == "upload" else 12 if path == "raw" else 1)


def test_top_k_answers_keep_probabilities_honest(images, digits):
    x, _, lr = digits
    m = endpoint(f"{images.url}/raw?top_k=3", classes=DIGITS, encoding="png")
    probs = m.predict(x[:4])
    full = lr.predict_proba(m.as_sent(x[:4]).reshape(4, -1))
    np.testing.assert_allclose(probs.sum(1), 1.0)
    for p, f in zip(probs, full):
        top = np.argsort(-f)[:3]
        np.testing.assert_allclose(p[top], f[top], atol=1e-6)  # the named classes keep their scores
        rest = np.setdiff1d(np.arange(10), top)
        np.testing.assert_allclose(p[rest], (1 - f[top].sum()) / 7, atol=1e-6)


def test_image_encoding_mistakes():
    with pytest.raises(FeintError, match="encoding png sends one image per request; set batch_size: 1"):
        HttpModel.from_config({"url": "http://h/p", "encoding": "png", "batch_size": 4}, WHERE)
    with pytest.raises(FeintError, match="encoding multipart is the whole body"):
        HttpModel.from_config({"url": "http://h/p", "encoding": "multipart", "protocol": "kserve-v2"}, WHERE)
    with pytest.raises(FeintError, match="a preprocess that changes its values"):
        HttpModel.from_config({"url": "http://h/p", "encoding": "png"}, WHERE, scaled=True)
    with pytest.raises(FeintError, match=r"encoding expects one of none, png, jpeg, base64-png"):
        HttpModel.from_config({"url": "http://h/p", "encoding": "webp"}, WHERE)
    with pytest.raises(FeintError, match="protocol tf-serving builds its own"):
        HttpModel.from_config({"url": "http://h/p", "protocol": "tf-serving", "body": {"x": "$inputs"}}, WHERE)


# -- from a YAML file, on the command line ---------------------------------------------
def test_scan_a_kserve_v2_endpoint_and_an_mlflow_one_declared_in_yaml(tabular, cancer, tmp_path, monkeypatch, capsys):
    import yaml

    from feint.cli.app import main
    from feint.targets import get_target

    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    x, y, lr, columns = cancer
    with open(tmp_path / "cancer.csv", "w") as f:
        f.write(",".join([*columns, "diagnosis"]) + "\n")
        for row, label in zip(x[:20], y[:20]):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{CLASSES[label]}\n")

    def declare(name: str, **endpoint) -> str:
        doc = {
            "name": name,
            "data_type": "tabular",
            "input_shape": [30],
            "classes": CLASSES,
            "bounds": [0, 1],
            "samples": {"csv": "cancer.csv", "label": "diagnosis"},
            "model": {"endpoint": {"retries": 0, **endpoint}},
        }
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc))
        return str(tmp_path / f"{name}.yaml")

    kserve = declare(
        "cancer_v2", url=f"{tabular.url}/v2/models/cancer/infer", protocol="kserve-v2", output_name="predict_proba"
    )
    tabular.seen.rows = 0
    args = ["-a", "hop_skip_jump", "--set", "max_iter=5", "--set", "max_eval=100", "--set", "init_eval=20", "-i", "0:3"]
    assert main(["scan", kserve, *args, "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert run["n"] == 3 and 0 < run["forward_queries"] <= tabular.seen.rows

    mlflow = declare("cancer_mlflow", url=f"{tabular.url}/invocations", protocol="mlflow", outputs="labels")
    target = get_target(mlflow)  # the columns come from the CSV header
    target.load()
    np.testing.assert_array_equal(target.predict(target.X).argmax(1), lr.predict(x[:20]))
    assert target.adapter.columns == columns and target.adapter.outputs == "labels"


def test_an_image_endpoint_scanned_judges_the_encoded_adversarial(images, digits, tmp_path, monkeypatch, capsys):
    """The run's success is the server's answer for the PNG it decoded, and the stored
    adversarial (whose distances the run reports) is that PNG, decoded."""
    import yaml

    from feint.cli.app import main

    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    x, y, lr = digits
    np.savez(tmp_path / "digits.npz", X=x[:10], y=y[:10])
    doc = {
        "name": "digits_png",
        "data_type": "image",
        "input_shape": [1, 8, 8],
        "classes": DIGITS,
        "bounds": [0, 1],
        "samples": {"npz": "digits.npz", "x": "X", "y": "y"},
        "model": {"endpoint": {"url": f"{images.url}/raw", "encoding": "png", "retries": 0}},
    }
    (tmp_path / "digits_png.yaml").write_text(yaml.safe_dump(doc))
    images.seen.rows = 0
    args = ["-a", "hop_skip_jump", "--set", "max_iter=3", "--set", "max_eval=60", "--set", "init_eval=10", "-i", "0:4"]
    assert main(["scan", str(tmp_path / "digits_png.yaml"), *args, "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert 0 < run["forward_queries"] <= images.seen.rows
    with np.load(f"{run['artifacts']}/adversarial.npz") as f:
        x_adv, x0 = f["x_adv"], f["x"]
    m = endpoint(f"{images.url}/raw", classes=DIGITS, encoding="png")
    sent = m.as_sent(x_adv)
    np.testing.assert_array_equal(sent, x_adv)  # on the 8-bit grid: exactly what the server saw
    np.testing.assert_allclose(np.rint(x_adv * 255) / 255, x_adv, atol=1e-6)  # every pixel an 8-bit value
    diff = (x_adv.astype(np.float64) - x0.astype(np.float64)).reshape(len(x0), -1)
    assert [s["l2"] for s in run["samples"]] == pytest.approx(np.linalg.norm(diff, axis=1).tolist())
    server_labels = lr.predict(sent.reshape(len(sent), -1))
    clean = lr.predict(m.as_sent(x0).reshape(len(x0), -1))
    assert [s["final_label"] for s in run["samples"]] == [DIGITS[i] for i in server_labels]
    assert [s["success"] for s in run["samples"]] == list(server_labels != clean)
