"""A prediction endpoint over HTTP, as a closed-box model adapter.

:class:`HttpModel` sends a batch as nested lists inside a body template, or as a serving
protocol names it (KServe v2, TF Serving, MLflow, Gradio), or as encoded images (PNG or
JPEG: raw, base64, multipart); it reads the probabilities, logits or labels at a path of
the answer (:mod:`~feint.targets.adapters.http_codecs` holds the protocols, the readers
and the image encodings), and keeps to the limits the configuration sets: a timeout per
request, bounded retries with exponential backoff (honouring ``Retry-After`` on 429), a
rate of requests per second, a number of requests in flight, and a budget of rows that is
never exceeded.

Requests go through a :class:`Transport`: send one request, get its status, headers and
body. :class:`UrllibTransport`, the default, does real HTTP with the standard library
(``urllib.request``); another transport (a recorded endpoint, a test's stand-in) is given
to :meth:`HttpModel.from_config`. Every failure is a :class:`~feint.errors.FeintError`
with a one-line message that names the endpoint and what came back.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from feint.errors import FeintError
from feint.targets.adapters import ModelAdapter
from feint.targets.adapters.http_codecs import (
    ENCODINGS,
    GRADIO_CALLS,
    MLFLOW_FORMATS,
    PROTOCOLS,
    ReadError,
    b64,
    decoded,
    encode_image,
    gradio_events,
    kserve_v2_output,
    kserve_v2_request,
    multipart,
    parse_json,
    quantise,
    read_labels,
    read_scores,
    resolve,
)
from feint.targets.meter import Meter, QueryBudgetExceeded, QueryMeter

__all__ = [
    "HttpModel",
    "Transport",
    "Response",
    "UrllibTransport",
    "EndpointError",
    "ResponseTooLarge",
    "QueryBudgetExceeded",
    "PLACEHOLDER",
    "OPTIONS",
    "Option",
]

PLACEHOLDER = "$inputs"
METHODS = ("POST", "PUT", "PATCH")
OUTPUTS = ("probabilities", "logits", "labels")
RETRY_STATUS = frozenset({429}) | frozenset(range(500, 600))
MAX_RETRY_AFTER = 60.0  # seconds: the longest Retry-After that is honoured as given
SNIPPET = 200  # characters of an answer quoted in an error
PROB_TOLERANCE = 1e-2  # how far a row of probabilities may sum from 1 (rounded outputs)
RAW_IMAGES = ("png", "jpeg", "multipart")  # encodings that are the whole body
IMAGE_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
DEFAULT_MAX_RESPONSE_BYTES = 64 << 20  # an answer's size, at most (the option max_response_bytes)
MAX_RESPONSE_BYTES_LIMIT = 1 << 40
MAX_ERROR_BYTES = 1 << 16  # of an error answer, only quoted: what is read of it

_T = TypeVar("_T")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Option:
    """An endpoint option: its default, what it accepts (said by a mistake's message),
    what it does (said by the reference) and its default as the reference shows it."""

    default: Any
    accepts: str
    doc: str
    shown: str


# the order is the order shown in messages and docs
# How redirects are followed (the endpoint option follow_redirects).
REDIRECTS = ("same-host", "any", "none")


OPTIONS: dict[str, Option] = {
    "url": Option(
        None,
        "an http:// or https:// URL (required)",
        "`http://` or `https://`; may read `${NAME}` from the environment",
        "(required)",
    ),
    "method": Option("POST", "one of " + ", ".join(METHODS), "`POST`, `PUT` or `PATCH`", "`POST`"),
    "headers": Option(
        {},
        "a mapping of header names to text; ${NAME} reads an environment variable",
        "header name to text; `${NAME}` in a value reads the environment variable `NAME` (unset: one line "
        "saying so), so tokens stay out of files and out of reports",
        "none",
    ),
    "body": Option(
        {"inputs": PLACEHOLDER},
        f"a JSON template holding the text {PLACEHOLDER!r} exactly once",
        "a JSON template holding the text `$inputs` exactly once, replaced by the rows as nested lists; "
        "other text may read `${NAME}`",
        "`{inputs: $inputs}`",
    ),
    "batch_size": Option(
        32,
        "an integer from 1 to 100000 (rows per request; 1 sends the row itself)",
        "rows per request; `1` sends one request per row with the row itself (not a list of one row) as `$inputs`",
        "`32`",
    ),
    "probabilities": Option(
        "",
        "a path into the answer: dotted keys, integer indices and * for every item, e.g. outputs.0.probs or "
        "predictions.*.scores (empty: the whole answer)",
        "the path to the rows in the answer: dotted keys, integer indices and `*` for every item of a list "
        "(or value of a mapping), e.g. `predictions`, `outputs.0.probs` or `predictions.*.scores`; a row is "
        "a list of scores, a mapping of class names to scores, or a list of `{label, score}` entries "
        "(`confidence` or `probability` for `score`; Gradio's `{label, confidences}`); a mapping of class "
        "names to lists of scores, one per row, is read too; an answer of one row may stand alone",
        "the whole answer, or the protocol's",
    ),
    "outputs": Option(
        "probabilities",
        "probabilities, logits or labels",
        "`probabilities` (each row must lie in 0..1 and sum to 1 within 0.01; it is renormalised; a row "
        "naming only some classes, a top-k answer, leaves the rest of the mass, `1 - sum`, spread evenly "
        "over the classes it does not name), `logits` (any scores for every class; feint applies softmax) "
        "or `labels` (one class per row, a class name or index: the model answers one-hot rows and has "
        "no confidences)",
        "`probabilities`",
    ),
    "timeout": Option(
        30.0,
        "seconds per request, a number above 0",
        "seconds a request may take in all (connecting, redirects and the whole answer, however slowly it "
        "comes), each retry again",
        "`30`",
    ),
    "retries": Option(
        3,
        "an integer from 0 to 20",
        "retries of a request answered 429 or 5xx, or that failed to connect or timed out; other 4xx "
        "answers are not retried",
        "`3`",
    ),
    "backoff": Option(
        0.5,
        "base seconds of the exponential backoff, a number from 0",
        "the waits before the retries are `backoff`, `2 * backoff`, `4 * backoff`, ... seconds, or the "
        "answer's `Retry-After` (on 429 and 503, at most 60 s) when longer",
        "`0.5`",
    ),
    "rate_limit": Option(
        None,
        "requests per second, a number above 0 (default: no limit)",
        "requests per second: request starts are spaced `1/rate_limit` seconds apart, over every worker of a scan",
        "none",
    ),
    "concurrency": Option(
        4,
        "an integer from 1 to 64 (requests in flight)",
        "requests in flight at most (in each worker process); a batch's requests go out together and come back "
        "in order",
        "`4`",
    ),
    "max_queries": Option(
        None,
        "an integer from 1 (rows, retries included; default: no budget)",
        "a budget of rows sent (retries included), shared by every worker of a scan and never exceeded: a call "
        "that would pass it sends nothing, and the scan stops with status `budget`, keeping what it finished, "
        "to be resumed",
        "none",
    ),
    "protocol": Option(
        "template",
        "one of " + ", ".join(PROTOCOLS),
        "the serving convention, so that no `body` is written: "
        + "; ".join(f"`{name}`: {p.doc}" for name, p in PROTOCOLS.items()),
        "`template`",
    ),
    "columns": Option(
        None,
        "a list of column names, one per feature",
        "the feature names of `protocol: mlflow`'s `dataframe_split`, in order; default: the header of CSV samples",
        "the CSV header",
    ),
    "mlflow_format": Option(
        "dataframe_split",
        "one of " + ", ".join(MLFLOW_FORMATS),
        "the body of `protocol: mlflow`: `dataframe_split` (`{dataframe_split: {columns, data}}`), `inputs` or "
        "`instances` (the rows as a list)",
        "`dataframe_split`",
    ),
    "input_name": Option(
        "input-0", "a tensor name (text)", "the input tensor's name of `protocol: kserve-v2`", "`input-0`"
    ),
    "output_name": Option(
        None,
        "a tensor name (text)",
        "the output of `protocol: kserve-v2` to ask for and read (e.g. `predict_proba`); default: none asked, "
        "the first read",
        "the first",
    ),
    "api_name": Option("predict", "a Gradio function name (text)", "the function of `protocol: gradio`", "`predict`"),
    "call": Option(
        "two-step",
        "one of " + ", ".join(GRADIO_CALLS),
        "how `protocol: gradio` is called: `two-step` (the queue: `/call/` then its event stream) or `one-step`",
        "`two-step`",
    ),
    "encoding": Option(
        "none",
        "one of " + ", ".join(ENCODINGS),
        "how images are sent, each quantised to 8 bits (`round(255 * (x - lo) / (hi - lo))` over `bounds`): "
        "`png` or `jpeg` (the body is one image, so one row per request; with `protocol: gradio`, the "
        "function's image input as Gradio's file data with the image as a data URL), `base64-png` or `base64-jpeg` "
        "(`$inputs` holds the base64 text of each image; `tf-serving` and `kserve-v1` send `{b64: ...}` "
        "instances), `multipart` (`multipart/form-data`, one PNG file per row under `field`); `none` "
        "sends numbers",
        "`none`",
    ),
    "field": Option("file", "a form field name (text)", "the form field of `encoding: multipart`", "`file`"),
    "jpeg_quality": Option(
        95, "an integer from 1 to 100", "the JPEG quality of `jpeg` and `base64-jpeg` encodings", "`95`"
    ),
    "follow_redirects": Option(
        "same-host",
        "one of " + ", ".join(REDIRECTS),
        "redirects (301, 302, 303, 307, 308): `same-host` follows those to the configured scheme, host "
        "and port, with the request's headers; `any` also follows those to another host, without the "
        "request's headers (credentials never leave the configured host); `none` follows none. A "
        "redirect not followed is a one-line error",
        "`same-host`",
    ),
    "max_response_bytes": Option(
        DEFAULT_MAX_RESPONSE_BYTES,
        f"an integer from 1 to {MAX_RESPONSE_BYTES_LIMIT} (bytes)",
        "the largest answer read, in bytes: an answer announcing more, or going on past it, is a one-line "
        "error (it is read in pieces, never held whole beyond this)",
        f"`{DEFAULT_MAX_RESPONSE_BYTES}` (64 MiB)",
    ),
}


# -- transport ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Response:
    """What came back for one request: its status, headers and body, whatever the status."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header's value, its name matched without regard to case."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class Transport(Protocol):
    """Sends one HTTP request. An answer of any status is a :class:`Response`; no answer
    (refused, reset, timed out) raises ``OSError`` (``TimeoutError`` for a timeout) or
    ``http.client.HTTPException``; an answer too large to read, :class:`ResponseTooLarge`.
    ``timeout`` is the whole request's."""

    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> Response: ...


class UrllibTransport:
    """Real HTTP through ``urllib.request`` (proxies from the environment). Redirects follow
    ``follow_redirects`` (see :data:`REDIRECTS`): the request's headers, credentials among
    them, never go to a host other than the one asked. ``timeout`` is the whole request's
    deadline (connecting, redirects, every byte of the answer): at the deadline its sockets
    are shut and ``TimeoutError`` is raised, however slowly the server trickles bytes. An
    answer is read in pieces and refused once it passes ``max_response_bytes``."""

    follow_redirects = "same-host"
    max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES

    def send(self, method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float) -> Response:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=body or None, headers=dict(headers), method=method)
        deadline = _Deadline(timeout)
        opener = urllib.request.build_opener(_redirects(self.follow_redirects), *_deadline_handlers(deadline))
        try:
            with deadline:
                try:
                    with opener.open(request, timeout=timeout) as response:
                        data = _read_bounded(response, self.max_response_bytes)
                        return Response(response.status, data, dict(response.headers.items()))
                except urllib.error.HTTPError as exc:
                    try:
                        text = exc.read(MAX_ERROR_BYTES)  # only quoted
                    except Exception:  # noqa: BLE001 - the body is only quoted
                        text = b""
                    return Response(exc.code, text, dict(exc.headers.items()) if exc.headers is not None else {})
        except (OSError, _http_exceptions()):
            if deadline.expired:
                raise TimeoutError(f"no complete answer within {timeout:g} s") from None
            raise


class _Deadline:
    """A request's deadline: when it passes, every socket the request opened is shut, so a
    read blocked on a server that trickles (or never ends) returns at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._socks: list[Any] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> _Deadline:
        self._timer = threading.Timer(self.seconds, self.expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self.expired and exc[0] is None:  # an answer that ended as the deadline passed
            raise TimeoutError(f"no complete answer within {self.seconds:g} s")

    def watch(self, sock: Any) -> None:
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                _shut(sock)


def _shut(sock: Any) -> None:
    import socket

    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass


def _deadline_handlers(deadline: _Deadline) -> list[Any]:
    """urllib handlers whose connections put their sockets under ``deadline``."""
    import http.client
    import urllib.request

    class Http(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class Https(http.client.HTTPSConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class HttpHandler(urllib.request.HTTPHandler):
        def http_open(self, req: Any) -> Any:
            return self.do_open(Http, req)

    class HttpsHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: Any) -> Any:
            return self.do_open(Https, req, context=getattr(self, "_context", None))

    return [HttpHandler(), HttpsHandler()]


class ResponseTooLarge(Exception):
    """An answer past ``max_response_bytes``; ``how`` says how it was seen ('announces 9 bytes')."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


def _read_bounded(response: Any, limit: int) -> bytes:
    """An answer's body, read in pieces, refused once it passes ``limit`` bytes."""
    length = response.headers.get("Content-Length")
    if length is not None and length.strip().isdigit() and int(length) > limit:
        raise ResponseTooLarge(f"announces {int(length):,} bytes")
    parts: list[bytes] = []
    size = 0
    while True:
        piece = response.read1(1 << 16)
        if not piece:
            return b"".join(parts)
        size += len(piece)
        if size > limit:
            raise ResponseTooLarge(f"goes on past {limit:,} bytes")
        parts.append(piece)


class EndpointError(FeintError):
    """The endpoint failed or answered something that is not the probabilities asked for."""


def _origin(url: str) -> tuple[str, str, int | None]:
    import urllib.parse

    part = urllib.parse.urlsplit(url)
    default = {"http": 80, "https": 443}.get(part.scheme)
    return part.scheme, (part.hostname or "").lower(), part.port or default


def _redirects(policy: str) -> Any:
    """A urllib redirect handler that keeps to ``policy`` (``none``, ``same-host``, ``any``)."""
    import urllib.request

    class Redirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            same = _origin(newurl) == _origin(req.full_url)
            if policy == "none" or (policy == "same-host" and not same):
                where = "another host" if not same else "another address"
                raise EndpointError(
                    f"the endpoint answered HTTP {code}, a redirect to {where} ({_shown_origin(newurl)}), which "
                    f"follow_redirects: {policy} does not follow; accepted: follow_redirects: "
                    + (
                        "same-host or any"
                        if policy == "none"
                        else "any, which follows it without the request's headers"
                    )
                )
            new = super().redirect_request(req, fp, code, msg, headers, newurl)
            if new is not None and not same:  # to another host: none of the request's headers go along
                new.headers = {}
                new.unredirected_hdrs = {}
            return new

    return Redirects()


def _shown_origin(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


class _Stopped(EndpointError):
    """A request not sent because another request of the same call failed."""


# -- configuration -------------------------------------------------------------------
def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _env(text: str, where: str) -> str:
    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise FeintError(f"{where} reads the environment variable {m.group(1)}, which is not set")
        return value

    return _ENV.sub(sub, text)


def _count_placeholders(value: Any) -> int:
    if isinstance(value, str):
        return int(value == PLACEHOLDER)
    if isinstance(value, Mapping):
        return sum(_count_placeholders(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_count_placeholders(v) for v in value)
    return 0


def _resolve_body(value: Any, where: str) -> Any:
    """The body template with ``${NAME}`` read from the environment (the placeholder kept)."""
    if isinstance(value, str):
        return value if value == PLACEHOLDER else _env(value, where)
    if isinstance(value, Mapping):
        return {str(k): _resolve_body(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_resolve_body(v, f"{where}.{i}") for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    raise FeintError(f"{where} holds {type(value).__name__}; accepted: JSON values (text, numbers, lists, mappings)")


def _fill(template: Any, inputs: list) -> Any:
    if isinstance(template, str):
        return inputs if template == PLACEHOLDER else template
    if isinstance(template, dict):
        return {k: _fill(v, inputs) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, inputs) for v in template]
    return template


def _parse_path(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.split(".") if path else []:
        steps.append(int(part) if re.fullmatch(r"-?\d+", part) else part)
    return steps


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text[:SNIPPET] + ("..." if len(text) > SNIPPET else "")


class HttpModel(ModelAdapter):
    """A model behind an HTTP endpoint; see the module doc. Build it with :meth:`from_config`.

    Its :meth:`predict` answers probabilities whatever the endpoint returns (the ``outputs``
    option says which, and logits are turned into probabilities here)."""

    kind = "http"
    open_box = False
    outputs = "probabilities"
    # what a model built without a transport sends its requests through
    default_transport: ClassVar[Callable[[], Transport]] = UrllibTransport

    def __init__(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        batch_size: int = 32,
        probabilities: str = "",
        outputs: str = "probabilities",
        timeout: float = 30.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        follow_redirects: str = "same-host",
        retries: int = 3,
        backoff: float = 0.5,
        rate_limit: float | None = None,
        concurrency: int = 4,
        max_queries: int | None = None,
        protocol: str = "template",
        columns: Sequence[str] | None = None,
        mlflow_format: str = "dataframe_split",
        input_name: str = "input-0",
        output_name: str | None = None,
        api_name: str = "predict",
        call: str = "two-step",
        encoding: str = "none",
        field: str = "file",
        jpeg_quality: int = 95,
        n_classes: int | None = None,
        classes: Sequence[str] | None = None,
        bounds: tuple[float, float] = (0.0, 1.0),
        channels_last: bool = False,
        shown_url: str | None = None,
        where: str = "",
        transport: Transport | None = None,
    ) -> None:
        # no model file: the endpoint is the model, so ModelAdapter's path is not set
        self.where = where or "model.endpoint"
        self.trust = False
        self.transport = transport if transport is not None else type(self).default_transport()
        if isinstance(self.transport, UrllibTransport):
            self.transport.follow_redirects = follow_redirects
            self.transport.max_response_bytes = max_response_bytes
        self.url = url
        self.shown_url = shown_url or url  # as written, environment references unresolved
        self.method = method
        self.headers = dict(headers or {})
        self.body = {"inputs": PLACEHOLDER} if body is None else body
        self.batch_size = batch_size
        self.path_text = probabilities
        self.steps = _parse_path(probabilities)
        self.answers = outputs  # what the endpoint returns: probabilities, logits or labels
        if outputs == "labels":
            self.outputs = "labels"
        self.protocol = protocol
        self.columns = list(columns) if columns is not None else None
        self.mlflow_format = mlflow_format
        self.input_name = input_name
        self.output_name = output_name
        self.api_name = api_name
        self.call = call
        self.encoding = encoding
        self.field = field
        self.jpeg_quality = jpeg_quality
        self.classes = list(classes) if classes is not None else None
        self.bounds = (float(bounds[0]), float(bounds[1]))
        self.channels_last = channels_last
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.follow_redirects = follow_redirects
        self.retries = retries
        self.backoff = backoff
        self.rate_limit = rate_limit
        self.concurrency = concurrency
        self.max_queries = max_queries
        self.n_classes = n_classes
        # counts the rows and requests sent (retries included), keeps max_queries and
        # rate_limit; a scan replaces it with one its workers share (feint.targets.meter)
        self.meter: QueryMeter = Meter(max_queries, rate_limit)
        self._slots = threading.BoundedSemaphore(concurrency)

    @property
    def queries(self) -> int:
        """Rows sent, retries included."""
        return self.meter.counts()[0]

    @property
    def requests(self) -> int:
        """HTTP requests sent, retries included."""
        return self.meter.counts()[1]

    # -- construction ----------------------------------------------------------------
    @classmethod
    def from_config(
        cls,
        mapping: Any,
        where: str,
        n_classes: int | None = None,
        transport: Transport | None = None,
        *,
        classes: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
        bounds: tuple[float, float] = (0.0, 1.0),
        channels_last: bool = False,
        scaled: bool = False,
    ) -> HttpModel:
        """Check the mapping found under ``model.endpoint`` and build the model.

        ``where`` prefixes every message (``"my.yaml: model.endpoint"``); ``n_classes``,
        when known, is checked against every answer; ``transport`` sends the requests
        (default: :attr:`default_transport`). What the declaration knows completes the
        protocols: the class names (``classes``: labels and keyed scores name them), the
        samples' feature names (``columns``, from a CSV header), their ``bounds`` and
        layout (``channels_last``: what an image encoding quantises), and whether a
        preprocessing changes the values before the endpoint (``scaled``: an encoded
        image is sent as it is, so that is refused)."""
        if not isinstance(mapping, Mapping):
            raise FeintError(
                f"{where} expects a mapping with the keys {', '.join(OPTIONS)}; got {type(mapping).__name__}"
            )
        unknown = [k for k in mapping if k not in OPTIONS]
        if unknown:
            raise FeintError(f"{where} has an unknown key {unknown[0]!r}; accepted: {', '.join(OPTIONS)}")
        cfg = {k: mapping.get(k, option.default) for k, option in OPTIONS.items()}
        cfg = {k: (OPTIONS[k].default if v is None else v) for k, v in cfg.items()}

        def bad(key: str, value: Any) -> FeintError:
            return FeintError(f"{where}.{key} expects {OPTIONS[key].accepts}; got {value!r}")

        follow = cfg["follow_redirects"]
        if follow not in REDIRECTS:
            raise bad("follow_redirects", follow)

        def integer(key: str, low: int, high: int) -> int | None:
            v = cfg[key]
            if v is None:
                return None
            if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
                raise bad(key, v)
            return v

        def given(key: str, value: _T | None) -> _T:  # an option with a default: never None
            if value is None:
                raise bad(key, value)
            return value

        def number(key: str, low: float, strict: bool) -> float | None:
            v = cfg[key]
            if v is None:
                return None
            if not _is_number(v) or v < low or (strict and v == low):
                raise bad(key, v)
            return float(v)

        url = cfg["url"]
        if url is None:
            raise FeintError(f"{where} needs the key 'url' ({OPTIONS['url'].accepts})")
        if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url.strip()):
            raise bad("url", url)
        shown_url = url.strip()
        resolved_url = _env(shown_url, f"{where}.url")
        method = cfg["method"]
        if not isinstance(method, str) or method.upper() not in METHODS:
            raise bad("method", method)
        headers = cfg["headers"]
        if not isinstance(headers, Mapping):
            raise bad("headers", headers)
        resolved_headers = {}
        for name, value in headers.items():
            if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise FeintError(f"{where}.headers has a header name {name!r}; accepted: letters, digits and -")
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise FeintError(f"{where}.headers.{name} expects text; got {type(value).__name__}")
            text = _env(str(value), f"{where}.headers.{name}")
            if "\n" in text or "\r" in text:
                raise FeintError(f"{where}.headers.{name} holds a line break; accepted: one line of text")
            resolved_headers[name] = text
        body = cfg["body"]
        if not isinstance(body, (Mapping, list, str)):
            raise bad("body", body)
        found = _count_placeholders(body)
        if found != 1:
            raise FeintError(f"{where}.body expects {OPTIONS['body'].accepts}; it holds it {found} times")
        body = _resolve_body(body, f"{where}.body")
        path = cfg["probabilities"]
        if not isinstance(path, str) or (path and "" in path.split(".")):
            raise bad("probabilities", path)
        outputs = cfg["outputs"]
        if outputs not in OUTPUTS:
            raise bad("outputs", outputs)
        if n_classes is not None and (not isinstance(n_classes, int) or n_classes < 1):
            raise FeintError(f"{where}: the number of classes must be a positive integer; got {n_classes!r}")
        protocol, encoding = cfg["protocol"], cfg["encoding"]
        if not isinstance(protocol, str) or protocol not in PROTOCOLS:
            raise bad("protocol", protocol)
        for key, accepted in (("mlflow_format", MLFLOW_FORMATS), ("call", GRADIO_CALLS), ("encoding", ENCODINGS)):
            if cfg[key] not in accepted:
                raise bad(key, cfg[key])
        for key in ("input_name", "api_name", "field"):
            if not isinstance(cfg[key], str) or not cfg[key].strip():
                raise bad(key, cfg[key])
        if cfg["output_name"] is not None and (not isinstance(cfg["output_name"], str) or not cfg["output_name"]):
            raise bad("output_name", cfg["output_name"])
        if not re.fullmatch(r"[A-Za-z0-9_.\-/]+", cfg["api_name"].strip("/")):
            raise bad("api_name", cfg["api_name"])
        listed = cfg["columns"]
        if listed is not None and (
            not isinstance(listed, list) or not listed or not all(isinstance(c, str) and c for c in listed)
        ):
            raise bad("columns", listed)
        if protocol != "template" and "body" in mapping:
            raise FeintError(f"{where}.body is the template of protocol: template; protocol {protocol} builds its own")
        if protocol == "kserve-v2" and "probabilities" in mapping:
            raise FeintError(
                f"{where}.probabilities is not read by protocol kserve-v2, whose answer's outputs are read by "
                "name: set output_name"
            )
        if protocol == "mlflow" and cfg["mlflow_format"] == "dataframe_split":
            named = listed if listed is not None else (list(columns) if columns is not None else None)
            if named is None:
                raise FeintError(
                    f"{where}: protocol mlflow's dataframe_split needs the feature names: a columns list, "
                    "or CSV samples with a header (or mlflow_format: inputs or instances)"
                )
            columns = named
        elif listed is not None:
            columns = listed
        if encoding != "none":
            if scaled:
                raise FeintError(
                    f"{where}.encoding sends the image itself, so a preprocess that changes its values "
                    "(scale, mean, std) cannot come before it: drop preprocess, the server preprocesses"
                )
            if protocol == "gradio":
                if encoding not in ("png", "jpeg"):
                    raise FeintError(
                        f"{where}.encoding {encoding}: protocol gradio sends each image as Gradio's file data "
                        "(a data URL, one image per request); use encoding png or jpeg"
                    )
            elif encoding in RAW_IMAGES and (protocol != "template" or "body" in mapping):
                raise FeintError(f"{where}.encoding {encoding} is the whole body: it takes neither body nor a protocol")
            if encoding.startswith("base64") and protocol not in ("template", "tf-serving", "kserve-v1"):
                raise FeintError(
                    f"{where}.encoding {encoding} fits protocol template, tf-serving or kserve-v1; got {protocol}"
                )
            if encoding in ("png", "jpeg") and mapping.get("batch_size", 1) != 1:
                raise FeintError(
                    f"{where}.batch_size: encoding {encoding} sends one image per request; set batch_size: 1"
                )
        if outputs == "labels" and n_classes is None and classes is None:
            raise FeintError(f"{where}.outputs labels needs the target's classes")
        batch_size = given("batch_size", integer("batch_size", 1, 100_000))
        if encoding in ("png", "jpeg"):
            batch_size = 1
        return cls(
            resolved_url,
            method=method.upper(),
            headers=resolved_headers,
            body=body,
            batch_size=batch_size,
            probabilities=path if "probabilities" in mapping else PROTOCOLS[protocol].path,
            outputs=outputs,
            timeout=given("timeout", number("timeout", 0.0, strict=True)),
            max_response_bytes=given("max_response_bytes", integer("max_response_bytes", 1, MAX_RESPONSE_BYTES_LIMIT)),
            follow_redirects=follow,
            retries=given("retries", integer("retries", 0, 20)),
            backoff=given("backoff", number("backoff", 0.0, strict=False)),
            rate_limit=number("rate_limit", 0.0, strict=True),
            concurrency=given("concurrency", integer("concurrency", 1, 64)),
            max_queries=integer("max_queries", 1, 10**12),
            protocol=protocol,
            columns=columns,
            mlflow_format=cfg["mlflow_format"],
            input_name=cfg["input_name"],
            output_name=cfg["output_name"],
            api_name=cfg["api_name"].strip("/"),
            call=cfg["call"],
            encoding=encoding,
            field=cfg["field"],
            jpeg_quality=given("jpeg_quality", integer("jpeg_quality", 1, 100)),
            n_classes=n_classes,
            classes=classes,
            bounds=bounds,
            channels_last=channels_last,
            shown_url=shown_url,
            where=where,
            transport=transport,
        )

    def load(self) -> None:
        """Nothing to load: the endpoint is asked on each prediction."""

    # -- reporting -----------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The endpoint (as written, so no secret from the environment) and its settings."""
        return {"model": self.shown_url, "adapter": self.kind, "endpoint": self.settings()}

    def settings(self) -> dict[str, Any]:
        """The endpoint's settings and what it was sent so far; header values never appear."""
        return {
            "method": self.method,
            "headers": sorted(self.headers),
            "batch_size": self.batch_size,
            "probabilities": self.path_text,
            "outputs": self.answers,
            "timeout": self.timeout,
            "max_response_bytes": self.max_response_bytes,
            "follow_redirects": self.follow_redirects,
            "retries": self.retries,
            "backoff": self.backoff,
            "rate_limit": self.rate_limit,
            "concurrency": self.concurrency,
            "max_queries": self.max_queries,
            "protocol": self.protocol,
            **({"encoding": self.encoding} if self.encoding != "none" else {}),
            **dict(zip(("queries", "requests"), self.meter.counts())),
        }

    def __repr__(self) -> str:
        return f"HttpModel({self.method} {self.shown_url})"

    # -- prediction ----------------------------------------------------------------
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Float64 probabilities ``(N, classes)`` for a batch ``(N, *input_shape)``; for a
        text target, a batch of strings (sent as JSON strings in ``$inputs``)."""
        text = isinstance(x, np.ndarray) and x.dtype == object
        x = x if text else np.asarray(x, dtype=np.float32)
        if x.ndim == 0:
            raise FeintError(f"endpoint {self.shown_url}: predict expects a batch (N, ...); got a scalar")
        n = len(x)
        if n == 0:
            return np.zeros((0, self.n_classes or 0), np.float64)
        used = self.meter.promise(n)
        if used is not None:
            raise QueryBudgetExceeded(
                f"endpoint {self.shown_url}: the query budget of {self.max_queries} rows (max_queries) "
                f"would be exceeded: {used} used, this call needs {n}; nothing more was sent"
            )
        chunks = [x[s : s + self.batch_size] for s in range(0, n, self.batch_size)]
        unsent = [len(c) for c in chunks]  # rows promised, per chunk, until first sent
        try:
            if len(chunks) == 1 or self.concurrency == 1:
                parts = [self._send(i, c, unsent) for i, c in enumerate(chunks)]
            else:
                parts = self._send_all(chunks, unsent)
        finally:
            self.meter.release(sum(unsent))
        first = parts[0].shape[1]
        for p in parts[1:]:
            if p.shape[1] != first:
                raise EndpointError(
                    f"endpoint {self.shown_url} answered {first} classes for one request and {p.shape[1]} for another"
                )
        return np.concatenate(parts)

    def _send_all(self, chunks: list[np.ndarray], unsent: list[int]) -> list[np.ndarray]:
        from concurrent.futures import ThreadPoolExecutor

        stop = threading.Event()
        with ThreadPoolExecutor(
            max_workers=min(self.concurrency, len(chunks)), thread_name_prefix="feint-http"
        ) as pool:
            futures = [pool.submit(self._send, i, c, unsent, stop) for i, c in enumerate(chunks)]
            try:
                return [f.result() for f in futures]  # in order
            except BaseException as exc:
                stop.set()  # requests not sent yet are not sent
                for f in futures:
                    f.cancel()
                if isinstance(exc, _Stopped):  # report the failure that stopped the others
                    for f in futures:
                        if not f.cancelled():
                            other = f.exception()
                            if other is not None and not isinstance(other, _Stopped):
                                raise other from None
                raise

    def _charge(self, rows: int, index: int, unsent: list[int]) -> None:
        """Count a request of ``rows`` rows against the budget, before it is sent."""
        promised, unsent[index] = unsent[index], 0  # a first attempt's rows were promised when the call began
        used = self.meter.charge(rows, promised)
        if used is not None:
            raise QueryBudgetExceeded(
                f"endpoint {self.shown_url}: retrying would exceed the query budget of {self.max_queries} rows "
                f"(max_queries): {used} used, the retry needs {rows}"
            )

    def _send(
        self, index: int, chunk: np.ndarray, unsent: list[int], stop: threading.Event | None = None
    ) -> np.ndarray:
        rows = len(chunk)
        url, data, headers = self._request(chunk)
        attempts = self.retries + 1
        for attempt in range(attempts):
            if stop is not None and stop.is_set():
                raise _Stopped(f"endpoint {self.shown_url}: stopped after another request failed")
            last = attempt == attempts - 1
            retry_after = None
            with self._slots:
                delay = self.meter.wait_time()  # rate_limit: request starts spaced
                if delay > 0:
                    time.sleep(delay)
                self._charge(rows, index, unsent)
                try:
                    response = self._answer(self.method, url, headers, data)
                except (OSError, _http_exceptions()) as exc:
                    failure = _describe_failure(exc, self.timeout)
                    if last:
                        tried = f" after {attempts} attempts" if attempts > 1 else ""
                        raise EndpointError(
                            f"endpoint {self.shown_url} could not be reached{tried}: {failure}"
                        ) from None
                else:
                    status, text = response.status, response.body.decode("utf-8", "replace")
                    if 200 <= status < 300:
                        if self.protocol == "gradio" and self.call == "two-step":
                            return self._read(self._events(url, text, status), status, rows, streamed=True)
                        return self._read(text, status, rows)
                    if status not in RETRY_STATUS or last:
                        tried = f" after {attempts} attempts" if attempts > 1 and status in RETRY_STATUS else ""
                        raise EndpointError(
                            f"endpoint {self.shown_url} answered HTTP {status}{tried}: "
                            f"{_one_line(text) or '(empty body)'}"
                        )
                    if status in (429, 503):
                        retry_after = _retry_after(response.header("Retry-After"))
            delay = self.backoff * 2**attempt
            if retry_after is not None:
                delay = max(delay, retry_after)
            if delay > 0:
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, method: str, url: str, headers: Mapping[str, str], data: bytes) -> Response:
        """The transport's response, its size kept to ``max_response_bytes``."""
        try:
            response = self.transport.send(method, url, headers, data, self.timeout)
        except ResponseTooLarge as exc:
            how = exc.how
        else:
            if len(response.body) <= self.max_response_bytes:
                return response
            how = f"holds {len(response.body):,} bytes"
        raise EndpointError(
            f"endpoint {self.shown_url} answered a body that {how}; accepted: at most "
            f"{self.max_response_bytes:,} bytes (max_response_bytes)"
        )

    # -- requests ------------------------------------------------------------------
    def _url(self) -> str:
        if self.protocol != "gradio":
            return self.url
        step = "call" if self.call == "two-step" else "run"
        return f"{self.url.rstrip('/')}/gradio_api/{step}/{self.api_name}"

    def _images(self, chunk: np.ndarray) -> list[bytes]:
        """Each row of a batch encoded as the endpoint is sent it (PNG or JPEG bytes)."""
        fmt = "jpeg" if self.encoding.endswith("jpeg") else "png"
        pixels = quantise(chunk, self.bounds)
        try:
            return [encode_image(p, fmt, self.channels_last, self.jpeg_quality) for p in pixels]
        except ValueError as exc:
            raise FeintError(f"endpoint {self.shown_url}: encoding {self.encoding}: {exc}") from None

    def as_sent(self, x: np.ndarray) -> np.ndarray:
        """What the endpoint receives for a batch, in the batch's layout and range: the
        batch itself when numbers are sent, else each image as the server decodes it (the
        8-bit quantisation, and for JPEG its compression too). :meth:`predict` of a batch
        is the endpoint's answer for exactly this."""
        x = np.asarray(x, dtype=np.float32)
        if self.encoding == "none":
            return x
        return np.stack([decoded(data, row, self.channels_last, self.bounds) for data, row in zip(self._images(x), x)])

    def _request(self, chunk: np.ndarray) -> tuple[str, bytes, dict[str, str]]:
        """The URL, body and headers of the request for a batch."""
        json_type = {"Content-Type": "application/json", "Accept": "application/json"}
        single = self.batch_size == 1 and self.protocol in ("template", "gradio")
        if self.encoding in ("png", "jpeg") and self.protocol == "gradio":
            # an image input of a Gradio app (gr.Image): its file data, the image inline as a data URL
            (image,) = self._images(chunk[:1])
            kind = IMAGE_TYPES[self.encoding]
            upload = {
                "url": f"data:{kind};base64,{b64(image)}",
                "orig_name": f"image.{self.encoding}",
                "mime_type": kind,
                "meta": {"_type": "gradio.FileData"},
            }
            return self._url(), json.dumps({"data": [upload]}).encode(), {**json_type, **self.headers}
        if self.encoding in ("png", "jpeg"):
            (image,) = self._images(chunk[:1])
            headers = {"Content-Type": IMAGE_TYPES[self.encoding], "Accept": "application/json", **self.headers}
            return self._url(), image, headers
        if self.encoding == "multipart":
            files = [(f"image-{i}.png", "image/png", data) for i, data in enumerate(self._images(chunk))]
            body, ctype = multipart(self.field, files)
            return self._url(), body, {"Content-Type": ctype, "Accept": "application/json", **self.headers}
        inputs: Any
        if self.encoding != "none":
            texts = [b64(d) for d in self._images(chunk)]
            if self.protocol in ("tf-serving", "kserve-v1"):
                inputs = [{"b64": t} for t in texts]
            else:
                inputs = texts[0] if single else texts
        else:
            inputs = chunk[0].tolist() if single else chunk.tolist()
        payload: Any
        if self.protocol == "template":
            payload = _fill(self.body, inputs)
        elif self.protocol == "kserve-v2":
            payload = kserve_v2_request(chunk, self.input_name, self.output_name)
        elif self.protocol in ("tf-serving", "kserve-v1"):
            payload = {"instances": inputs}
        elif self.protocol == "mlflow":
            if self.mlflow_format == "dataframe_split":
                flat = chunk.reshape(len(chunk), -1)
                if self.columns is None or flat.shape[1] != len(self.columns):
                    raise FeintError(
                        f"endpoint {self.shown_url}: dataframe_split has {len(self.columns or [])} columns "
                        f"for rows of {flat.shape[1]} features"
                    )
                payload = {"dataframe_split": {"columns": self.columns, "data": flat.tolist()}}
            else:
                payload = {self.mlflow_format: inputs}
        else:  # gradio: the rows are the function's first input
            payload = {"data": [inputs]}
        try:
            data = json.dumps(payload, allow_nan=False).encode()
        except ValueError:
            raise FeintError(
                f"endpoint {self.shown_url}: the inputs hold NaN or infinite values, which JSON cannot carry"
            ) from None
        return self._url(), data, {**json_type, **self.headers}

    def _events(self, url: str, text: str, status: int) -> str:
        """Gradio's second step: the event stream of the call's ``event_id``, as the text of
        ``{"data": ...}`` from its ``complete`` event."""
        try:
            event_id = parse_json(text)["event_id"]
        except ReadError as exc:
            raise EndpointError(f"endpoint {self.shown_url} answered HTTP {status} {exc}") from None
        except (ValueError, KeyError, TypeError):
            raise EndpointError(
                f"endpoint {self.shown_url} answered HTTP {status} without an event_id: "
                f"{_one_line(text) or '(empty body)'}"
            ) from None
        where = f"{url}/{event_id}"
        headers = {"Accept": "text/event-stream", **self.headers}
        delay = self.meter.wait_time()  # rate_limit: request starts spaced, this one too
        if delay > 0:
            time.sleep(delay)
        self.meter.charge(0, 0)  # a request that sends no rows
        try:
            response = self._answer("GET", where, headers, b"")
        except (OSError, _http_exceptions()) as exc:
            raise EndpointError(
                f"endpoint {self.shown_url}: its event stream could not be read: {_describe_failure(exc, self.timeout)}"
            ) from None
        body = response.body.decode("utf-8", "replace")
        if not 200 <= response.status < 300:
            raise EndpointError(
                f"endpoint {self.shown_url} answered HTTP {response.status} for its event stream: "
                f"{_one_line(body) or '(empty body)'}"
            )
        try:
            events = gradio_events(body)
        except ReadError as exc:
            raise EndpointError(f"endpoint {self.shown_url} answered an event stream {exc}") from None
        for name, value in events:
            if name == "error":
                raise EndpointError(
                    f"endpoint {self.shown_url} answered an error event: {_one_line(json.dumps(value))}"
                )
            if name == "complete":
                return json.dumps({"data": value})
        raise EndpointError(
            f"endpoint {self.shown_url} answered an event stream without a complete event: "
            f"{_one_line(body) or '(empty body)'}"
        )

    # -- answers -------------------------------------------------------------------
    def _read(self, text: str, status: int, rows: int, streamed: bool = False) -> np.ndarray:
        def fail(what: str) -> EndpointError:
            shown = "its event stream" if streamed else f"HTTP {status}"
            return EndpointError(
                f"endpoint {self.shown_url} answered {shown} {what}: {_one_line(text) or '(empty body)'}"
            )

        try:
            value = parse_json(text)
        except ReadError as exc:
            raise fail(str(exc)) from None
        except ValueError:
            raise fail("with a body that is not JSON") from None
        try:
            if self.protocol == "kserve-v2":
                value = kserve_v2_output(value, self.output_name, rows)
                where = f"outputs {self.output_name or '0'}"
            else:
                value = resolve(value, self.steps, self.path_text)
                where = self.path_text or "the top level"
            if self.answers == "labels":
                arr = read_labels(value, rows, self.classes, self.n_classes, where)
            else:
                arr = read_scores(value, rows, self.classes, self.n_classes, self.answers == "logits", where)
        except ReadError as exc:
            raise fail(str(exc)) from None
        if self.n_classes is not None and arr.shape[1] != self.n_classes:
            raise fail(f"with {arr.shape[1]} classes per row; the target has {self.n_classes}")
        if arr.shape[1] == 0:
            raise fail("with empty rows")
        if not np.isfinite(arr).all():
            raise fail("with NaN or infinite values")
        if self.answers == "labels":
            return arr
        if self.answers == "logits":
            z = np.exp(arr - arr.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)
        sums = arr.sum(axis=1)
        off = np.abs(sums - 1.0)
        if arr.min() < -1e-6 or arr.max() > 1 + 1e-6 or off.max() > PROB_TOLERANCE:
            row = int(off.argmax())
            raise fail(
                f"with values that are not probabilities (row {row} sums to {sums[row]:.4g}; "
                "set outputs: logits for scores)"
            )
        arr = np.clip(arr, 0.0, None)
        return arr / arr.sum(axis=1, keepdims=True)


def _http_exceptions() -> type[Exception]:
    import http.client

    return http.client.HTTPException


def _describe_failure(exc: BaseException, timeout: float) -> str:
    import socket
    import urllib.error

    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in str(reason):
        return f"no complete answer within the timeout of {timeout:g} s (the whole request)"
    text = str(reason) or type(reason).__name__
    return _one_line(f"{type(reason).__name__}: {text}" if type(reason).__name__ not in text else text)


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), at most a minute."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
