"""Every reader of what a user or a server hands feint is bounded: a YAML declaration's
aliases and nesting, an endpoint's answer (its nesting, its size, the time it takes),
sample files (regular files only, by size) and shapes (by values per sample). Past a
limit, one line names the limit."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from feint.cli.app import main
from feint.errors import FeintError
from feint.targets.adapters.http import EndpointError, HttpModel, Response
from feint.targets.loaders import yaml as yaml_loader
from feint.targets.loaders.yaml import load_yaml_target

DECLARATION = """name: bounded
model: {{endpoint: {{url: "{url}"}}}}
data_type: tabular
input_shape: {shape}
classes: [a, b]
samples: {samples}
"""


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def _declare(folder, samples="d.npz", shape="[4]", url="http://127.0.0.1:9/", extra="") -> str:
    np.savez(folder / "d.npz", X=np.zeros((4, 4), np.float32), y=np.array([0, 1, 0, 1]))
    path = folder / "t.yaml"
    path.write_text(DECLARATION.format(url=url, shape=shape, samples=samples) + extra)
    return str(path)


def _one_line(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, (code, err)
    return err[0]


# -- YAML ---------------------------------------------------------------------------------
LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{b}'] * 9) if b else ', '.join(['lol'] * 9)}]\n"
    for a, b in zip("abcdefghi", ["", *"abcdefgh"])
)


def test_a_billion_laughs_declaration_is_refused_by_its_expanded_size(tmp_path, capsys, fresh_home):
    path = tmp_path / "laughs.yaml"
    path.write_text(LAUGHS)
    assert len(LAUGHS) < 500  # a few hundred bytes that stand for 9**9 values
    line = _one_line(capsys, ["predict", str(path)])
    assert f"expand it to more than {yaml_loader.MAX_YAML_VALUES:,} values" in line
    assert f"accepted: at most {yaml_loader.MAX_YAML_VALUES:,}" in line


def test_a_declaration_nested_50000_deep_is_one_line(tmp_path, capsys, fresh_home):
    path = tmp_path / "deep.yaml"
    path.write_text("name: x\ninput_shape: " + "[" * 50_000 + "]" * 50_000 + "\n")
    line = _one_line(capsys, ["predict", str(path)])
    assert f"more than {yaml_loader.MAX_YAML_DEPTH} deep; accepted: at most {yaml_loader.MAX_YAML_DEPTH}" in line


def test_aliases_within_the_limits_still_read(tmp_path):
    path = _declare(tmp_path, extra="description: &d shared\n")
    text = open(path).read().replace("classes: [a, b]", "classes: &c [a, b]\ncolumns: [w, x, y, z]")
    with open(path, "w") as f:
        f.write(text)
    target = load_yaml_target(path)
    assert target.output_classes == ("a", "b") and target.columns == ("w", "x", "y", "z")


def test_a_declaration_larger_than_its_limit_is_refused_unread(tmp_path, monkeypatch):
    path = _declare(tmp_path, extra="description: " + "x" * 5000 + "\n")
    monkeypatch.setattr(yaml_loader, "MAX_YAML_BYTES", 4096)
    with pytest.raises(FeintError, match=r"bytes; accepted: a declaration of at most 4,096 bytes"):
        load_yaml_target(path)


# -- shapes and sample files ------------------------------------------------------------
def test_a_shape_of_billions_of_values_is_refused_before_any_array(tmp_path, capsys, fresh_home):
    path = _declare(tmp_path, shape="[4294967296, 4294967296]")
    line = _one_line(capsys, ["predict", path])
    assert "input_shape: [4294967296, 4294967296] holds 18,446,744,073,709,551,616 values per sample" in line
    assert "accepted: at most 33,554,432" in line


def test_a_python_target_with_a_shape_too_large_is_one_line(tmp_path, capsys, fresh_home):
    path = tmp_path / "huge.py"
    path.write_text(
        "import numpy as np\n"
        "class Huge:\n"
        "    target_name = 'huge'\n    data_type = 'tabular'\n"
        "    input_shape = (4294967296, 4294967296)\n    output_classes = ['a', 'b']\n"
        "    X = []\n"
        "    def load(self): pass\n"
        "    def predict(self, x): return np.full((len(x), 2), 0.5)\n"
    )
    line = _one_line(capsys, ["predict", str(path)])
    assert "input_shape [4294967296, 4294967296] holds 18,446,744,073,709,551,616 values" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_as_samples_does_not_block(tmp_path, capsys, fresh_home):
    os.mkfifo(tmp_path / "pipe.npz")
    line = _one_line(capsys, ["predict", _declare(tmp_path, samples="{npz: pipe.npz}")])
    assert "pipe.npz is not a regular file (a device, a pipe or a socket); accepted: a file" in line


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("samples", ["{csv: /dev/zero}", "{npy: /dev/zero}", "/dev/zero"])
def test_a_device_as_samples_is_refused_unread(samples, tmp_path, capsys, fresh_home):
    line = _one_line(capsys, ["predict", _declare(tmp_path, samples=samples)])
    assert "/dev/zero is not a regular file" in line


def test_sample_files_past_their_size_are_refused(tmp_path, monkeypatch):
    from feint.targets.loaders import samples

    path = _declare(tmp_path)
    x = np.random.default_rng(0).random((512, 4)).astype(np.float32)
    np.savez_compressed(tmp_path / "d.npz", X=np.zeros((4096, 4), np.float32), y=np.zeros(4096, np.int64))
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "x.csv").write_text("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in x))
    monkeypatch.setattr(samples, "MAX_SAMPLE_BYTES", 4096)
    monkeypatch.setattr(samples, "MAX_CSV_BYTES", 1024)
    # stored compressed, the array is small; it is judged by its size once decompressed
    assert (tmp_path / "d.npz").stat().st_size < 4096
    with pytest.raises(FeintError, match=r"array 'X' is 65,664 bytes uncompressed; accepted: at most 4,096 bytes"):
        load_yaml_target(path).load()
    declared = open(path).read()
    for given, name in (("x.npy", "x.npy"), ("{csv: x.csv}", "x.csv")):
        with open(path, "w") as f:
            f.write(declared.replace("samples: d.npz", f"samples: {given}"))
        with pytest.raises(FeintError, match=rf"{name} is [\d,]+ bytes; accepted: at most [\d,]+ bytes of samples"):
            load_yaml_target(path).load()


# -- endpoint answers ---------------------------------------------------------------------
class Misbehaving(BaseHTTPRequestHandler):
    """Answers by the path: deep JSON, a body that trickles or never ends, a huge body."""

    sent: dict[str, int] = {}
    closed: dict[str, bool] = {}

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        mode = self.path.strip("/")
        if mode == "deep":
            body = b"[" * 100_000 + b"]" * 100_000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        if mode == "announced":
            self.send_header("Content-Length", str(400 << 20))
        self.end_headers()
        total, closed = 0, False
        try:
            if mode == "trickle":  # a byte every half second for 65 s, then an answer
                for _ in range(130):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    total += 1
                    time.sleep(0.5)
                self.wfile.write(b"[[0.5, 0.5]]")
            elif mode == "forever":
                while True:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    total += 1
                    time.sleep(0.05)
            else:  # 400 MB of white space before an answer
                piece = b" " * (1 << 20)
                for _ in range(400):
                    self.wfile.write(piece)
                    total += len(piece)
                self.wfile.write(b"[[0.5, 0.5]]")
        except OSError:
            closed = True  # feint hung up
        Misbehaving.sent[mode] = total
        Misbehaving.closed[mode] = closed


@pytest.fixture(scope="module")
def misbehaving():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    httpd.block_on_close = False
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _ask(url: str, **cfg) -> HttpModel:
    model = HttpModel.from_config({"url": url, "retries": 0, **cfg}, "t.yaml: model.endpoint", n_classes=2)
    return model


def _wait_for(mode: str) -> None:
    for _ in range(400):  # the server's handler notices the hang-up on its next write
        if mode in Misbehaving.sent:
            return
        time.sleep(0.05)


def test_an_answer_nested_100000_deep_is_one_line(misbehaving):
    with pytest.raises(EndpointError, match=r"answered HTTP 200 with JSON nested 100,000 deep; accepted: at most 100"):
        _ask(f"{misbehaving}/deep").predict(np.zeros((1, 4), np.float32))


@pytest.mark.parametrize("mode", ["trickle", "forever"])
def test_the_timeout_is_the_whole_requests_however_slow_the_answer(mode, misbehaving):
    with pytest.raises(EndpointError, match=r"no complete answer within the timeout of 1 s \(the whole request\)"):
        _ask(f"{misbehaving}/{mode}", timeout=1).predict(np.zeros((1, 4), np.float32))
    _wait_for(mode)
    # feint hung up long before the trickle's 130 bytes (65 s at a byte per half second)
    assert Misbehaving.closed[mode] and Misbehaving.sent[mode] < 100


@pytest.mark.parametrize(
    "mode, says", [("huge", "goes on past 67,108,864 bytes"), ("announced", "announces 419,430,400 bytes")]
)
def test_an_answer_past_max_response_bytes_is_not_read_whole(mode, says, misbehaving):
    with pytest.raises(EndpointError, match=rf"{says}; accepted: at most 67,108,864 bytes \(max_response_bytes\)"):
        _ask(f"{misbehaving}/{mode}").predict(np.zeros((1, 4), np.float32))
    _wait_for(mode)
    assert Misbehaving.closed[mode] and Misbehaving.sent[mode] < 400 << 20


def test_max_response_bytes_is_an_option_and_holds_with_any_transport():
    class Big:
        def send(self, method, url, headers, body, timeout):
            return Response(200, json.dumps([[0.25, 0.75]]).encode())

    cfg = {"url": "http://127.0.0.1:9/", "max_response_bytes": 8}
    model = HttpModel.from_config(cfg, "t", n_classes=2, transport=Big())
    assert model.settings()["max_response_bytes"] == 8
    with pytest.raises(EndpointError, match=r"holds 14 bytes; accepted: at most 8 bytes \(max_response_bytes\)"):
        model.predict(np.zeros((1, 4), np.float32))
    model = HttpModel.from_config({**cfg, "max_response_bytes": 14}, "t", n_classes=2, transport=Big())
    assert model.predict(np.zeros((1, 4), np.float32)).tolist() == [[0.25, 0.75]]
    for bad in (0, -1, 1.5, True, "big", 1 << 41):
        with pytest.raises(FeintError, match=r"t.max_response_bytes expects an integer from 1 to 1099511627776"):
            HttpModel.from_config({**cfg, "max_response_bytes": bad}, "t", n_classes=2)


@pytest.mark.parametrize("mode, says", [("deep", "nested 100,000 deep"), ("forever", "no complete answer within")])
def test_a_hostile_endpoint_is_one_line_from_the_command_line(mode, says, misbehaving, tmp_path, capsys, fresh_home):
    path = _declare(tmp_path, url=f"{misbehaving}/{mode}")
    text = open(path).read().replace(f'"{misbehaving}/{mode}"}}', f'"{misbehaving}/{mode}", retries: 0, timeout: 1}}')
    assert "retries: 0" in text
    with open(path, "w") as f:
        f.write(text)
    line = _one_line(capsys, ["predict", path, "-i", "0:2"])
    assert says in line and line.startswith(f"feint: error: endpoint {misbehaving}/{mode} ")


def _forged(shape, payload: int = 64) -> bytes:
    """The bytes of an .npy file whose header claims ``shape`` over ``payload`` bytes."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * payload


def test_an_array_header_claiming_more_than_it_holds_is_refused_before_numpy_makes_room(tmp_path):
    import zipfile

    path = _declare(tmp_path)
    (tmp_path / "huge.npy").write_bytes(_forged((10**6, 10**6)))
    (tmp_path / "short.npy").write_bytes(_forged((1000, 4)))
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:  # a few bytes claiming 4 TB
        z.writestr("X.npy", _forged((10**6, 10**6)))
    declared = open(path).read()
    for given, says in (
        ("huge.npy", "huge.npy claims 4,000,000,000,000 bytes of samples; accepted: at most 2,147,483,648"),
        ("short.npy", "short.npy claims 16,000 bytes of samples but holds 64"),
        ("huge.npz", "huge.npz: array 'X' claims 4,000,000,000,000 bytes of samples; accepted: at most"),
    ):
        with open(path, "w") as f:
            f.write(declared.replace("samples: d.npz", f"samples: {given}"))
        with pytest.raises(FeintError, match=re.escape(says)):
            load_yaml_target(path).load()
