"""Property-based fuzzing of what a user or a server hands feint: command lines, YAML
target declarations and endpoint answers. Whatever is generated, bad input ends in one
line and exit code 2 (or, for an answer, one endpoint error), never in a traceback, and
nothing runs or is stored. Calls are in-process; examples are bounded so the suite stays
fast."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from feint.cli.app import main
from feint.errors import FeintError

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)

# text that breaks parsers: quotes, brackets, markup, control and non-ASCII characters
HOSTILE = st.lists(
    st.sampled_from(list("0123456789-+.,:;eE_xX ()[]{}'\"\\/$*<>=!&|#%~`\t\n") + ["é", "٣", "\x00", "𝟙", "[/bold]"]),
    max_size=16,
).map("".join)


def _number(text: str, kind: type) -> float | None:
    try:
        value = kind(text)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _bad_number(low: float, high: float, kind: type = int, above: bool = False) -> st.SearchStrategy[str]:
    """Text that is not a number of ``kind`` from ``low`` (above it with ``above``) to ``high``
    (``math.inf``: no upper limit): out of range, not finite, or not a number at all."""
    below = st.integers(max_value=int(low) - (0 if above else 1))
    over = st.integers(min_value=int(high) + 1, max_value=10**40) if math.isfinite(high) else below
    out_of_range = st.one_of(below, over).map(str)
    words = st.sampled_from(["nan", "inf", "-inf", "1e400", "", " ", "1 2", "0x10", "1_0_", "two", "--1"])

    def bad(text: str) -> bool:
        v = _number(text, kind)
        return v is None or v < low or (above and v == low) or v > high

    return st.one_of(out_of_range, words, HOSTILE).filter(bad)


GATE_METRICS = ["success_rate", "successes", "queries.avg", "linf.max", "pgd.success_rate"]


def _not_a_gate(text: str) -> bool:
    from feint.report.gate import parse_gate

    try:
        parse_gate(text)
    except FeintError:
        return True
    return False


BAD_GATES = st.one_of(
    HOSTILE,
    st.builds(
        lambda m, op, v, junk: f"{m} {op} {v}{junk}",
        st.sampled_from(GATE_METRICS),
        st.sampled_from([">", "<", ">=", "==", "=>", "~", "", "and", "not"]),
        HOSTILE,
        st.sampled_from(["", " and", " or (", ")", " not", " %"]),
    ),
    st.integers(1, 200).map(lambda n: "(" * n + "success_rate > 0.1"),
).filter(_not_a_gate)

BAD_INDICES = st.one_of(
    st.integers(min_value=10**9, max_value=10**30).map(str),
    st.integers(min_value=10_000_001, max_value=10**12).map(lambda n: f"0:{n}"),
    st.integers(min_value=10_000_001, max_value=10**12).map(lambda n: f"range({n})"),
    st.sampled_from(["-1", "1 2", "a", "3:1:0", "range(", "1,,2", "0:5:0", "nan", "1e9", "[/bold]"]),
)

# each a flag of `scan` and a value it must refuse
SCAN_FLAGS = st.one_of(
    st.tuples(st.just("--workers"), _bad_number(1, 1024)),
    st.tuples(st.just("--chunk-size"), _bad_number(1, 10**7)),
    st.tuples(st.just("-n"), _bad_number(1, 1000)),
    st.tuples(st.just("--max-queries"), _bad_number(1, 10**15)),
    st.tuples(st.just("--max-time"), _bad_number(0, 365 * 24 * 3600, float, above=True)),
    st.tuples(st.just("--seed"), _bad_number(0, 2**32 - 1)),
    st.tuples(st.just("-i"), BAD_INDICES),
    st.tuples(st.just("--fail-on"), BAD_GATES),
    st.tuples(st.just("--set"), st.builds(lambda v: f"eps={v}", _bad_number(0, math.inf, float, above=True))),
    st.tuples(st.just("--set"), st.builds(lambda v: f"max_iter={v}", _bad_number(1, 100_000))),
    st.tuples(st.just("--set"), st.builds(lambda n, v: f"no_such_{n}={v}", st.integers(0, 99), HOSTILE)),
    st.tuples(st.just("--sweep"), st.builds(lambda v: f"eps=0.1,{v}", _bad_number(0, math.inf, float, above=True))),
    st.tuples(st.just("--report"), st.builds(lambda v: f"/proc/feint-{abs(hash(v))}.html", HOSTILE)),
)


def _outcome(capsys, argv: list[str]) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as exit:  # the parser's refusal
        code = int(exit.code or 0)
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return code, err.strip().splitlines()


def _refused(capsys, argv: list[str]) -> str:
    code, lines = _outcome(capsys, argv)
    assert code == 2 and len(lines) == 1, (argv, code, lines)
    assert lines[0].startswith(("feint: error: ", "error: ")), lines
    return lines[0]


@pytest.fixture(scope="module")
def empty_home(tmp_path_factory, digits_keras):
    """One FEINT_HOME for every example (nothing may be stored in it), sharing the models."""
    import os

    home = tmp_path_factory.mktemp("fuzz-home")
    shared = os.environ["FEINT_HOME"]
    for folder in ("models", "data", "cache"):
        os.makedirs(os.path.join(shared, folder), exist_ok=True)
        (home / folder).symlink_to(os.path.join(shared, folder), target_is_directory=True)
    return home


def _nothing_stored(home) -> None:
    from feint.store.db import Store

    if (home / "feint.db").exists():
        assert Store(home / "feint.db").recent_ids() == []


@FUZZ
@given(command=st.sampled_from(["run", "scan"]), flags=st.lists(SCAN_FLAGS, min_size=1, max_size=3))
def test_a_command_line_with_a_bad_value_is_one_line_and_exit_2(command, flags, capsys, monkeypatch, empty_home):
    monkeypatch.setenv("FEINT_HOME", str(empty_home))
    if command == "run":
        flags = [f for f in flags if f[0] not in ("--workers", "--chunk-size", "-n", "--max-queries", "--max-time")]
        flags = [f for f in flags if f[0] not in ("--fail-on", "--sweep", "--report")]
        assume(flags)
        argv = ["run", "digits_keras", "pgd"]
    else:
        argv = ["scan", "digits_keras", "-a", "pgd"]
    for flag, value in flags:  # joined to the flag: a value may start with '-'
        argv.append(f"{flag}={value}" if flag.startswith("--") else f"{flag}{value}")
    _refused(capsys, argv)
    _nothing_stored(empty_home)


@FUZZ
@given(
    argv=st.one_of(
        st.lists(HOSTILE, min_size=1, max_size=4),
        st.tuples(st.sampled_from(["show", "report", "info", "list"]), HOSTILE).map(list),
        st.tuples(st.just("report"), st.just("abc"), st.just("--gallery"), _bad_number(0, 1000)).map(list),
        st.tuples(st.just("predict"), st.just("digits_keras"), st.just("-i"), BAD_INDICES).map(list),
        st.tuples(st.just("shell"), st.just("-c"), HOSTILE.map(lambda t: f"interact digits_keras; run -i '{t}'")).map(
            list
        ),
    )
)
def test_any_other_command_line_never_ends_in_a_traceback(argv, capsys, monkeypatch, empty_home):
    monkeypatch.setenv("FEINT_HOME", str(empty_home))
    assume(not any(a in ("-h", "--help", "--version") or a.startswith("--h") for a in argv))
    assume(argv[0] not in ("shell",) or "-c" in argv)  # no interactive shell
    code, lines = _outcome(capsys, argv)
    capsys.readouterr()
    if code != 0:
        assert code == 2 and len(lines) == 1 and lines[0].startswith(("feint: error: ", "error: ")), (argv, lines)
    _nothing_stored(empty_home)


# -- YAML declarations --------------------------------------------------------------------
JSONISH = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        HOSTILE,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(HOSTILE, inner, max_size=4)),
    max_leaves=12,
)
BASE = {
    "name": "fuzzed",
    "model": {"endpoint": {"url": "http://127.0.0.1:9/", "retries": 0, "timeout": 1}},  # refused at once
    "data_type": "tabular",
    "input_shape": [4],
    "classes": ["a", "b"],
    "samples": "d.npz",
}
KEYS = [*BASE, "description", "bounds", "channels", "preprocess", "outputs", "trust", "columns", "inputs", "output"]


@FUZZ
@given(
    changes=st.dictionaries(st.one_of(st.sampled_from(KEYS), HOSTILE), st.one_of(JSONISH, st.just(None)), max_size=3),
    drop=st.lists(st.sampled_from(list(BASE)), max_size=2),
)
def test_a_fuzzed_declaration_is_one_line_and_exit_2(changes, drop, capsys, monkeypatch, empty_home, tmp_path_factory):
    monkeypatch.setenv("FEINT_HOME", str(empty_home))
    folder = tmp_path_factory.mktemp("decl")
    np.savez(folder / "d.npz", X=np.zeros((2, 4), np.float32), y=np.array([0, 1]))
    doc = {k: v for k, v in {**BASE, **changes}.items() if k not in drop}
    path = folder / "t.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    # valid or not, predicting fails: the endpoint refuses connections (one line, exit 2)
    _refused(capsys, ["predict", str(path), "-i", "0"])
    _nothing_stored(empty_home)


# options of an endpoint fuzzed inside its mapping; those that make feint wait (retries,
# backoff, timeout, rate_limit) keep their values so that every example ends at once
ENDPOINT_KEYS = [
    "url", "method", "headers", "body", "batch_size", "probabilities", "outputs", "concurrency", "max_queries",
    "protocol", "columns", "mlflow_format", "input_name", "output_name", "api_name", "call", "encoding", "field",
    "jpeg_quality", "follow_redirects", "max_response_bytes",
]  # fmt: skip
SAMPLE_KEYS = ["npz", "npy", "csv", "images", "x", "y", "label"]


@FUZZ
@given(
    endpoint=st.dictionaries(st.one_of(st.sampled_from(ENDPOINT_KEYS), HOSTILE), JSONISH, max_size=3),
    samples=st.dictionaries(st.one_of(st.sampled_from(SAMPLE_KEYS), HOSTILE), JSONISH, max_size=2),
    preprocess=st.one_of(st.none(), st.dictionaries(st.sampled_from(["scale", "mean", "std", "x"]), JSONISH)),
)
def test_fuzzed_endpoint_samples_and_preprocess_keys_are_one_line(
    endpoint, samples, preprocess, capsys, monkeypatch, empty_home, tmp_path_factory
):
    monkeypatch.setenv("FEINT_HOME", str(empty_home))
    folder = tmp_path_factory.mktemp("nested")
    np.savez(folder / "d.npz", X=np.zeros((2, 4), np.float32), y=np.array([0, 1]))
    doc = dict(BASE)
    doc["model"] = {"endpoint": {**endpoint, "retries": 0, "timeout": 1}}
    doc["model"]["endpoint"].setdefault("url", "http://127.0.0.1:9/")
    doc["samples"] = {"npz": "d.npz", **samples} if samples else "d.npz"
    if preprocess is not None:
        doc["preprocess"] = preprocess
    path = folder / "t.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    _refused(capsys, ["predict", str(path), "-i", "0"])
    _nothing_stored(empty_home)


@FUZZ
@given(text=st.one_of(HOSTILE, st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_a_declaration_of_any_text_is_one_line_and_exit_2(text, capsys, monkeypatch, empty_home, tmp_path_factory):
    monkeypatch.setenv("FEINT_HOME", str(empty_home))
    path = tmp_path_factory.mktemp("text") / "t.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _refused(capsys, ["predict", str(path)])


# -- endpoint answers ---------------------------------------------------------------------
ANSWERS = st.one_of(
    JSONISH.map(lambda v: json.dumps(v)),
    st.builds(lambda rows: json.dumps({"predictions": rows}), st.lists(st.lists(JSONISH, max_size=3), max_size=3)),
    st.builds(
        lambda rows: json.dumps({"predictions": rows}),
        st.lists(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=2, max_size=2), max_size=3),
    ),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)


@FUZZ
@given(
    body=ANSWERS, status=st.sampled_from([200, 200, 200, 201, 400, 404, 500]), path=st.sampled_from(["", "predictions"])
)
def test_any_endpoint_answer_is_read_or_refused_in_one_line(body, status, path):
    from feint.targets.adapters.http import EndpointError, HttpModel, Response

    class Answering:
        def send(self, method, url, headers, data, timeout):
            return Response(status, body.encode("utf-8", "surrogatepass"))

    cfg = {"url": "http://127.0.0.1:9/", "retries": 0, "probabilities": path}
    model = HttpModel.from_config(cfg, "t.yaml: model.endpoint", n_classes=2, transport=Answering())
    x = np.zeros((2, 4), np.float32)
    try:
        probs = model.predict(x)
    except EndpointError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith("endpoint http://127.0.0.1:9/ ")
        assert len(text) < 1000
        return
    assert probs.shape == (2, 2) and np.isfinite(probs).all()
    assert np.allclose(probs.sum(1), 1.0) and probs.min() >= 0


def test_the_fuzzed_refusals_name_what_was_wrong(capsys, monkeypatch, empty_home):
    """Spot checks of the lines the fuzzing only counts."""
    monkeypatch.setenv("FEINT_HOME", str(empty_home))
    line = _refused(capsys, ["scan", "digits_keras", "-a", "pgd", "--workers", "1e3"])
    assert re.search(r"--workers expects a number of workers from 1 to 1,024; got '1e3'", line)
    line = _refused(capsys, ["scan", "digits_keras", "-a", "pgd", "--fail-on", "(" * 60 + "success_rate > 0.1"])
    assert "more than 50 deep" in line


# -- what a Python target's predict returns ----------------------------------------------
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=32)
RETURNS = st.one_of(
    JSONISH,
    st.lists(st.lists(FLOATS, min_size=2, max_size=2), min_size=3, max_size=3),  # the right shape, any values
    st.lists(st.lists(FLOATS, min_size=0, max_size=4), min_size=0, max_size=4),
    st.lists(FLOATS, min_size=3, max_size=3),  # one column: the second class's probability
    st.sampled_from(["text", b"bytes", None, {"a": 1}, object(), iter([1, 2])]),
)


@FUZZ
@given(answer=RETURNS)
def test_whatever_a_python_target_returns_is_used_or_refused_in_one_line(answer, monkeypatch, empty_home):
    from feint import api

    monkeypatch.setenv("FEINT_HOME", str(empty_home))

    class Answers:
        target_name = "answers"
        data_type = "tabular"
        input_shape = (4,)
        output_classes = ["a", "b"]
        X = np.zeros((3, 4), np.float32)

        def load(self):
            pass

        def predict(self, x):
            return answer

    target = api.load_target(Answers())
    try:
        predictions = api.predict(target, "0:3")
    except FeintError as exc:
        assert "\n" not in str(exc) and "answers" in str(exc).lower()  # names the target (or its class)
        return
    assert len(predictions) == 3
    for p in predictions:
        assert p.confidence is not None and 0 <= p.confidence <= 1 and p.label in ("a", "b")
