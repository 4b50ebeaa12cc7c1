"""The HTTP endpoint adapter against a real local server that serves a small model and
misbehaves on demand."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from feint.errors import FeintError
from feint.targets.adapters.http import EndpointError, HttpModel, QueryBudgetExceeded

WHERE = "t.yaml: model.endpoint"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cancer():
    """Breast-cancer data scaled to 0..1 and a logistic regression on it (the served model)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)
    model = LogisticRegression(max_iter=500).fit(x, data.target)
    return x, data.target.astype(np.int64), model


class State:
    """What the server does (``script``: one behaviour per request, then ``default``) and
    what it saw (rows, requests, headers, arrival times, most requests in flight)."""

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()
        self.script: list[str] = []
        self.default = "ok"
        self.delay = 0.0
        self.retry_after = "0"
        self.fail_after_rows: int | None = None
        self.single = False  # batch_size 1: the input is one row, the answer one row
        self.rows = 0
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []
        self.headers: list[dict] = []

    def next_behaviour(self, rows: int) -> str:
        with self.lock:
            self.requests += 1
            self.rows += rows
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.arrivals.append(time.monotonic())
            if self.fail_after_rows is not None and self.rows > self.fail_after_rows:
                return "500"
            return self.script.pop(0) if self.script else self.default


def _handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status: int, body: str, headers: dict | None = None) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.headers.append(dict(self.headers))
            inputs = np.asarray(payload.get("inputs", payload.get("instances")), np.float32)
            batch = inputs[None] if inputs.ndim == 1 else inputs
            what = state.next_behaviour(len(batch))
            try:
                if state.delay:
                    time.sleep(state.delay)
                probs = state.model.predict_proba(batch)
                if what == "ok":
                    out = probs[0].tolist() if state.single else probs.tolist()
                    body = {"outputs": [{"probs": out}]} if state.single else {"predictions": out}
                    self._answer(200, json.dumps(body))
                elif what == "slow":
                    time.sleep(1.0)
                    self._answer(200, json.dumps({"predictions": probs.tolist()}))
                elif what in ("500", "503"):
                    self._answer(int(what), "upstream model crashed\nTraceback: boom")
                elif what == "429":
                    self._answer(429, '{"error": "slow down"}', {"Retry-After": state.retry_after})
                elif what == "400":
                    self._answer(400, '{"error": "bad input"}')
                elif what == "notjson":
                    self._answer(200, "<html>gateway says hello</html>")
                elif what == "missing":
                    self._answer(200, json.dumps({"result": probs.tolist()}))
                elif what == "rows":
                    self._answer(200, json.dumps({"predictions": probs[:-1].tolist()}))
                elif what == "ragged":
                    self._answer(200, json.dumps({"predictions": [[0.5, 0.5], [1.0]]}))
                elif what == "strings":
                    self._answer(200, json.dumps({"predictions": [["a", "b"]] * len(batch)}))
                elif what == "nan":
                    self._answer(200, '{"predictions": ' + json.dumps([[float("nan"), 1.0]] * len(batch)) + "}")
                elif what == "scores":
                    self._answer(200, json.dumps({"predictions": (np.log(probs) + 3.0).tolist()}))
                else:  # pragma: no cover
                    raise AssertionError(what)
            finally:
                with state.lock:
                    state.in_flight -= 1

    return Handler


@pytest.fixture()
def server(cancer):
    state = State(cancer[2])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    yield state
    httpd.shutdown()
    httpd.server_close()


def model(server, **cfg) -> HttpModel:
    return HttpModel.from_config(
        {"url": server.url, "probabilities": "predictions", "backoff": 0.01, "timeout": 2, **cfg}, WHERE, n_classes=2
    )


# -- answers ---------------------------------------------------------------------------
def test_batches_come_back_in_order_with_the_model_probabilities(server, cancer):
    x, _, lr = cancer
    m = model(server, batch_size=32)
    probs = m.predict(x[:70])
    assert probs.dtype == np.float64 and probs.shape == (70, 2)
    np.testing.assert_allclose(probs, lr.predict_proba(x[:70]), atol=1e-6)
    assert (m.queries, m.requests) == (70, 3)
    assert (server.rows, server.requests) == (70, 3)


def test_one_row_per_request_with_a_body_template_and_a_nested_path(server, cancer):
    x, _, lr = cancer
    server.single = True
    m = HttpModel.from_config(
        {
            "url": server.url,
            "body": {"instances": "$inputs", "version": 2},
            "batch_size": 1,
            "probabilities": "outputs.0.probs",
            "concurrency": 2,
        },
        WHERE,
    )
    np.testing.assert_allclose(m.predict(x[5:9]), lr.predict_proba(x[5:9]), atol=1e-6)
    assert (m.requests, server.requests, server.rows) == (4, 4, 4)


def test_logits_are_turned_into_probabilities(server, cancer):
    x, _, lr = cancer
    server.default = "scores"
    with pytest.raises(EndpointError, match="not probabilities .*outputs: logits"):
        model(server).predict(x[:3])
    np.testing.assert_allclose(model(server, outputs="logits").predict(x[:3]), lr.predict_proba(x[:3]), atol=1e-6)


# -- failures and retries -----------------------------------------------------------------
def test_server_errors_are_retried_until_an_answer(server, cancer):
    x, _, lr = cancer
    server.script = ["500", "503", "ok"]
    m = model(server, retries=3)
    np.testing.assert_allclose(m.predict(x[:4]), lr.predict_proba(x[:4]), atol=1e-6)
    assert (m.requests, server.requests) == (3, 3)


def test_retries_exhausted_is_one_line_naming_the_endpoint_and_the_status(server, cancer):
    server.default = "500"
    with pytest.raises(EndpointError) as err:
        model(server, retries=2).predict(cancer[0][:2])
    text = str(err.value)
    assert server.url in text and "HTTP 500 after 3 attempts" in text and "upstream model crashed" in text
    assert "\n" not in text
    assert server.requests == 3


def test_other_client_errors_are_not_retried(server, cancer):
    server.default = "400"
    with pytest.raises(EndpointError, match=r"HTTP 400: \{\"error\": \"bad input\"\}"):
        model(server, retries=3).predict(cancer[0][:2])
    assert server.requests == 1


def test_429_waits_as_long_as_retry_after_says(server, cancer):
    server.script, server.retry_after = ["429"], "0.3"
    m = model(server, retries=1)
    t0 = time.monotonic()
    m.predict(cancer[0][:2])
    assert time.monotonic() - t0 >= 0.25  # backoff alone would wait 0.01 s
    assert server.requests == 2


def test_a_slow_endpoint_times_out(server, cancer):
    server.default = "slow"
    with pytest.raises(
        EndpointError,
        match=r"could not be reached after 2 attempts: no complete answer within the "
        r"timeout of 0.2 s \(the whole request\)",
    ):
        model(server, timeout=0.2, retries=1).predict(cancer[0][:2])
    assert server.requests == 2


def test_an_unreachable_endpoint_is_one_line():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = HttpModel.from_config({"url": f"http://127.0.0.1:{port}/p", "retries": 1, "backoff": 0.01}, WHERE)
    with pytest.raises(EndpointError, match=rf"endpoint http://127.0.0.1:{port}/p could not be reached after 2"):
        m.predict(np.zeros((1, 3), np.float32))


@pytest.mark.parametrize(
    "behaviour, expected",
    [
        ("notjson", "with a body that is not JSON: <html>gateway says hello</html>"),
        ("missing", "without 'predictions'"),
        ("rows", "with 2 rows for 3 inputs"),
        ("ragged", "with rows of different lengths"),
        ("strings", "with non-numeric values at 'predictions'"),
        ("nan", "with NaN or infinite values"),
    ],
)
def test_malformed_answers_are_one_line_errors(server, cancer, behaviour, expected):
    server.default = behaviour
    with pytest.raises(EndpointError) as err:
        model(server, retries=3).predict(cancer[0][:3])
    text = str(err.value)
    assert text.startswith(f"endpoint {server.url} answered HTTP 200 ") and expected in text and "\n" not in text
    assert server.requests == 1  # an answer that came back is not asked for again


def test_the_number_of_classes_is_checked(server, cancer):
    m = HttpModel.from_config({"url": server.url, "probabilities": "predictions"}, WHERE, n_classes=3)
    with pytest.raises(EndpointError, match="with 2 classes per row; the target has 3"):
        m.predict(cancer[0][:2])


# -- limits ------------------------------------------------------------------------------
def test_the_query_budget_is_never_exceeded(server, cancer):
    x = cancer[0]
    m = model(server, max_queries=10, batch_size=4)
    m.predict(x[:6])
    with pytest.raises(
        QueryBudgetExceeded,
        match=r"budget of 10 rows \(max_queries\) would be exceeded: "
        r"6 used, this call needs 6",
    ):
        m.predict(x[:6])
    assert server.rows == 6  # nothing of the refused call was sent
    m.predict(x[:4])
    with pytest.raises(QueryBudgetExceeded):
        m.predict(x[:1])
    assert server.rows == m.queries == 10


def test_retries_count_against_the_budget(server, cancer):
    server.script = ["500", "ok"]
    m = model(server, max_queries=8, retries=3)
    with pytest.raises(QueryBudgetExceeded, match="retrying would exceed the query budget of 8 rows"):
        m.predict(cancer[0][:6])
    assert server.rows == 6 <= 8


def test_concurrency_bounds_requests_in_flight(server, cancer):
    x, _, lr = cancer
    server.delay = 0.05
    m = model(server, batch_size=2, concurrency=3)
    np.testing.assert_allclose(m.predict(x[:20]), lr.predict_proba(x[:20]), atol=1e-6)  # in order
    assert 1 < server.max_in_flight <= 3
    assert server.requests == 10


def test_a_failing_request_among_concurrent_ones_is_the_error_reported(server, cancer):
    server.script, server.delay = ["ok", "400"], 0.02
    with pytest.raises(EndpointError, match=r"answered HTTP 400: "):
        model(server, batch_size=2, concurrency=2, retries=0).predict(cancer[0][:16])
    assert server.requests <= 8


def test_rate_limit_spaces_requests(server, cancer):
    m = model(server, batch_size=1, concurrency=4, rate_limit=20)
    m.predict(cancer[0][:9])
    assert server.requests == 9
    assert server.arrivals[-1] - server.arrivals[0] >= 0.3  # 8 gaps of 0.05 s, loosely


def test_headers_read_environment_variables_and_stay_out_of_reports(server, cancer, monkeypatch):
    monkeypatch.setenv("FEINT_TEST_TOKEN", "s3cret-token")
    m = model(server, headers={"Authorization": "Bearer ${FEINT_TEST_TOKEN}", "X-Client": "feint"})
    m.predict(cancer[0][:1])
    assert server.headers[0]["Authorization"] == "Bearer s3cret-token"
    assert server.headers[0]["X-Client"] == "feint"
    described = json.dumps(m.describe())
    assert "s3cret" not in described and "Authorization" in described
    assert m.describe()["model"] == server.url and m.describe()["endpoint"]["queries"] == 1
    monkeypatch.delenv("FEINT_TEST_TOKEN")
    with pytest.raises(
        FeintError,
        match=r"model.endpoint.headers.Authorization reads the environment "
        r"variable FEINT_TEST_TOKEN, which is not set",
    ):
        model(server, headers={"Authorization": "Bearer ${FEINT_TEST_TOKEN}"})


def test_the_url_reads_the_environment_and_reports_show_it_as_written(server, cancer, monkeypatch):
    monkeypatch.setenv("FEINT_TEST_PATH", "predict")
    written = server.url.replace("/predict", "/${FEINT_TEST_PATH}")
    m = HttpModel.from_config({"url": written, "probabilities": "predictions"}, WHERE)
    assert m.predict(cancer[0][:2]).shape == (2, 2)
    assert m.describe()["model"] == written


def test_retry_after_takes_seconds_or_a_date_and_is_capped():
    from email.utils import formatdate

    from feint.targets.adapters.http import MAX_RETRY_AFTER, _retry_after

    assert _retry_after("2") == 2.0
    assert _retry_after("86400") == MAX_RETRY_AFTER
    assert 5 <= _retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10
    assert _retry_after(formatdate(time.time() - 10, usegmt=True)) == 0.0
    assert _retry_after("soon") is None and _retry_after(None) is None


# -- configuration -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cfg, expected",
    [
        (
            {"url": "http://h/p", "retry": 2},
            r"t.yaml: model.endpoint has an unknown key 'retry'; accepted: url, "
            r"method, headers, body, batch_size, probabilities, outputs, timeout, "
            r"retries, backoff, rate_limit, concurrency, max_queries",
        ),
        ({}, r"needs the key 'url'"),
        ({"url": "ftp://h/p"}, r"model.endpoint.url expects an http:// or https:// URL"),
        ({"url": "http://h/p", "method": "GET"}, r"model.endpoint.method expects one of POST, PUT, PATCH; got 'GET'"),
        ({"url": "http://h/p", "batch_size": 0}, r"model.endpoint.batch_size expects an integer from 1"),
        ({"url": "http://h/p", "batch_size": "8"}, r"batch_size expects an integer .*; got '8'"),
        ({"url": "http://h/p", "timeout": 0}, r"model.endpoint.timeout expects seconds per request"),
        ({"url": "http://h/p", "retries": 99}, r"model.endpoint.retries expects an integer from 0 to 20"),
        ({"url": "http://h/p", "concurrency": True}, r"concurrency expects an integer from 1 to 64 .*; got True"),
        ({"url": "http://h/p", "max_queries": 0}, r"max_queries expects an integer from 1"),
        ({"url": "http://h/p", "rate_limit": -1}, r"rate_limit expects requests per second"),
        ({"url": "http://h/p", "outputs": "votes"}, r"outputs expects probabilities, logits or labels; got .votes."),
        (
            {"url": "http://h/p", "body": {"x": 1}},
            r"model.endpoint.body expects .*'\$inputs' exactly once; "
            r"it holds it 0 times",
        ),
        ({"url": "http://h/p", "body": ["$inputs", "$inputs"]}, r"holds it 2 times"),
        ({"url": "http://h/p", "probabilities": "a..b"}, r"probabilities expects a path"),
        ({"url": "http://h/p", "headers": ["a"]}, r"headers expects a mapping"),
        ("http://h/p", r"model.endpoint expects a mapping with the keys url, method"),
    ],
)
def test_configuration_mistakes_name_the_key_and_what_is_accepted(cfg, expected):
    with pytest.raises(FeintError, match=expected):
        HttpModel.from_config(cfg, WHERE)


# -- end to end: a YAML target pointing at the endpoint, scanned from the command line -------
def _target_file(folder, name: str, url: str, **endpoint) -> str:
    import yaml

    doc = {
        "name": name,
        "data_type": "tabular",
        "input_shape": [30],
        "classes": ["malignant", "benign"],
        "bounds": [0, 1],
        "samples": {"npz": "cancer.npz", "x": "X", "y": "y"},
        "model": {
            "endpoint": {
                "url": url,
                "probabilities": "predictions",
                "retries": 1,
                "backoff": 0.01,
                "timeout": 5,
                **endpoint,
            }
        },
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


HSJ = ["-a", "hop_skip_jump", "--set", "max_iter=5", "--set", "max_eval=100", "--set", "init_eval=20", "-i", "0:3"]


def test_scan_an_endpoint_from_the_command_line(server, cancer, tmp_path, monkeypatch, capsys):
    from feint.cli.app import main
    from feint.store.db import Store

    monkeypatch.setenv("FEINT_HOME", str(tmp_path / "home"))
    x, y, _ = cancer
    np.savez(tmp_path / "cancer.npz", X=x[:20], y=y[:20])

    # under a query budget: the scan runs, and the endpoint never sees more rows than the budget
    budget = 3000
    assert main(["scan", _target_file(tmp_path, "cancer_a", server.url, max_queries=budget), *HSJ, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (run,) = doc["runs"]
    assert run["n"] == 3 and run["successes"] >= 1
    assert 0 < run["forward_queries"] <= server.rows <= budget
    first = server.rows  # loading the target (its samples' labels) plus the run

    # a budget too small for the work: the scan stops with status budget, saying which
    # budget and how to continue, and nothing is sent past it
    server.rows = 0
    assert main(["scan", _target_file(tmp_path, "cancer_b", server.url, max_queries=100), *HSJ, "--json"]) == 3
    out, err = capsys.readouterr()
    assert json.loads(out)["settings"]["status"] == "budget"
    assert "budget reached (endpoint " in err and "query budget of 100 rows (max_queries) would be exceeded" in err
    assert "feint scan --resume" in err and "Traceback" not in err
    assert server.rows <= 100

    # the endpoint fails midway through a scan: one line naming it, and the finished run is stored
    server.rows, server.fail_after_rows = 0, first  # enough for loading and the first run, no more
    path = _target_file(tmp_path, "cancer_c", server.url)
    assert main(["scan", path, *HSJ, "--sweep", "max_iter=5,8", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == f"feint: error: endpoint {server.url} answered HTTP 500 after 2 attempts: upstream model "
        "crashed Traceback: boom"
    )
    store = Store()
    (scan_id,) = [i for i in store.recent_ids(10) if getattr(store.get_scan(i), "target", None) == "cancer_c"]
    assert main(["show", scan_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["target"] == "cancer_c" and shown["settings"]["status"] == "interrupted"
    assert [str(r["params"]["max_iter"]) for r in shown["runs"]] == ["5"]
    assert shown["runs"][0]["samples"] == run["samples"]  # the same run as the first scan's


class Recorded:
    """A transport that answers from a list instead of the network, and records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def send(self, method, url, headers, body, timeout):
        self.sent.append((method, url, dict(headers), json.loads(body), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_the_transport_is_a_seam_between_the_model_and_the_network():
    from feint.targets.adapters.http import Response

    ok = Response(200, json.dumps({"p": [[0.25, 0.75], [1.0, 0.0]]}).encode())
    transport = Recorded(
        Response(503, b"busy", {"retry-after": "0"}), ConnectionRefusedError("refused"), ok, Response(404, b"gone")
    )
    m = HttpModel.from_config(
        {"url": "http://model.test/p", "probabilities": "p", "retries": 2, "backoff": 0, "timeout": 7},
        WHERE,
        n_classes=2,
        transport=transport,
    )
    np.testing.assert_allclose(m.predict(np.zeros((2, 3))), [[0.25, 0.75], [1.0, 0.0]])
    method, url, headers, body, timeout = transport.sent[0]
    assert (method, url, body, timeout) == ("POST", "http://model.test/p", {"inputs": [[0.0] * 3] * 2}, 7.0)
    assert headers["Content-Type"] == "application/json" and len(transport.sent) == 3
    assert m.describe()["endpoint"]["requests"] == 3 and m.describe()["endpoint"]["queries"] == 6
    with pytest.raises(EndpointError, match=r"^endpoint http://model.test/p answered HTTP 404: gone$"):
        m.predict(np.zeros((1, 3)))
    assert len(transport.sent) == 4  # a 404 is not retried


def test_a_yaml_endpoint_goes_through_the_default_transport(tmp_path, monkeypatch):
    import yaml

    from feint.targets import get_target
    from feint.targets.adapters.http import Response

    class Constant:
        def send(self, method, url, headers, body, timeout):
            rows = json.loads(body)["inputs"]
            return Response(200, json.dumps([[0.0, 1.0]] * len(rows)).encode())

    monkeypatch.setattr(HttpModel, "default_transport", Constant)
    np.save(tmp_path / "x.npy", np.zeros((3, 4), np.float32))
    doc = {
        "name": "remote",
        "model": {"endpoint": {"url": "http://model.test/predict"}},
        "data_type": "tabular",
        "input_shape": [4],
        "classes": ["no", "yes"],
        "samples": "x.npy",
    }
    (tmp_path / "remote.yaml").write_text(yaml.safe_dump(doc))
    target = get_target(str(tmp_path / "remote.yaml"))
    assert target.outputs_to_labels(target.predict(target.X)) == ["yes"] * 3
    described = target.describe()
    assert described["adapter"] == "http" and described["model"] == "http://model.test/predict"
    assert target.adapter.describe()["endpoint"]["queries"] == 3  # what the endpoint answers needs no probe


@pytest.fixture()
def elsewhere(cancer):
    """A second server on 127.0.0.1, another port: another host for the redirect rules,
    which answers like the model and records the headers it receives."""
    state = State(cancer[2])

    class Recording(_handler(state)):  # type: ignore[misc, valid-type]
        def do_GET(self):  # a redirected POST arrives as a GET: recorded, refused
            with state.lock:
                state.requests += 1
                state.headers.append(dict(self.headers))
            self._answer(405, '{"error": "POST only"}')

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def redirecting(elsewhere):
    """A server that answers every request with a redirect to ``elsewhere``."""
    target = elsewhere.url

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(self.server.code)  # type: ignore[attr-defined]
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    httpd.code = 302  # type: ignore[attr-defined]
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}/predict"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("code", [301, 302, 303])
def test_credentials_never_follow_a_redirect_to_another_host(code, redirecting, elsewhere, cancer, monkeypatch):
    httpd, url = redirecting
    httpd.code = code
    monkeypatch.setenv("FEINT_TEST_TOKEN", "s3cret-token")
    x = cancer[0][:3]
    cfg = {"url": url, "probabilities": "predictions", "backoff": 0.01, "timeout": 2, "retries": 0}
    cfg["headers"] = {"Authorization": "Bearer ${FEINT_TEST_TOKEN}"}
    m = HttpModel.from_config(cfg, WHERE, n_classes=2)
    with pytest.raises(EndpointError) as refused:
        m.predict(x)
    text = str(refused.value)
    assert f"HTTP {code}, a redirect to another host" in text and "follow_redirects: any" in text
    assert "\n" not in text and elsewhere.requests == 0  # nothing reached the other host
    # follow_redirects: any goes there (HTTP turns the POST into a GET), without the request's headers
    m = HttpModel.from_config({**cfg, "follow_redirects": "any"}, WHERE, n_classes=2)
    with pytest.raises(EndpointError, match="answered HTTP 405"):
        m.predict(x)
    assert elsewhere.requests == 1 and "Authorization" not in elsewhere.headers[0]
    assert "s3cret-token" not in json.dumps(elsewhere.headers)


def test_follow_redirects_takes_only_its_words():
    with pytest.raises(FeintError, match=r"follow_redirects expects one of same-host, any, none; got 'always'"):
        HttpModel.from_config({"url": "http://127.0.0.1:9/p", "follow_redirects": "always"}, WHERE, n_classes=2)
