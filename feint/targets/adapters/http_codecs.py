"""What an HTTP endpoint is sent and how its answer is read: protocols, readers and images.

A *protocol* names a serving convention so that no body template has to be written:
:data:`PROTOCOLS` holds each one's request and where its answer holds the scores. The
answer is then read by :func:`read_scores` (scores per row: lists, maps keyed by class,
``[{label, score}]`` lists) or :func:`read_labels` (one class label per row). Images may
be sent encoded (:func:`encode_image`: PNG or JPEG, raw, base64 or multipart), quantised
to 8 bits as the encoding does; :func:`decoded` is the image the server decodes.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "ENCODINGS",
    "GRADIO_CALLS",
    "MLFLOW_FORMATS",
    "ReadError",
    "WILDCARD",
    "resolve",
    "read_scores",
    "read_labels",
    "quantise",
    "encode_image",
    "decoded",
    "multipart",
    "kserve_v2_request",
    "kserve_v2_output",
    "gradio_events",
    "parse_json",
    "json_depth",
    "MAX_JSON_DEPTH",
]

WILDCARD = "*"
PROB_TOLERANCE = 1e-2  # how far a row of probabilities may sum from 1 (rounded outputs)
SCORE_KEYS = ("score", "confidence", "probability")  # a {label, score} entry's score
LABEL_KEYS = ("label", "class")  # its label


@dataclass(frozen=True)
class Protocol:
    """A serving convention: what it is (for the reference) and where its answer's scores
    are when ``probabilities`` is not given."""

    doc: str
    path: str


PROTOCOLS: dict[str, Protocol] = {
    "template": Protocol("the `body` template, with `$inputs` replaced by the rows (the default)", ""),
    "kserve-v2": Protocol(
        "the Open Inference Protocol (KServe v2: MLServer, Triton): one request "
        "`{inputs: [{name, shape, datatype: FP32, data}]}` per batch, the answer's `outputs` entry "
        "(`output_name`, else the first) read by its `shape`; `url` is the model's `.../infer` URL",
        "",
    ),
    "tf-serving": Protocol("TensorFlow Serving's REST API: `{instances: rows}`, answered `predictions`", "predictions"),
    "kserve-v1": Protocol("KServe's v1 protocol: `{instances: rows}`, answered `predictions`", "predictions"),
    "mlflow": Protocol(
        "MLflow's scoring server (`/invocations`): `mlflow_format` says the body (`dataframe_split` "
        "with the column names, `inputs` or `instances`), answered `predictions`",
        "predictions",
    ),
    "gradio": Protocol(
        "a Gradio app: `url` is the app's root, `api_name` its function; `call: two-step` posts to "
        "`/gradio_api/call/<api_name>` and reads the event stream of the `event_id` it answers, "
        "`call: one-step` posts to `/gradio_api/run/<api_name>`; the rows are the first input "
        "(`{data: [$inputs]}`), or with `encoding: png` or `jpeg` one image per request as the file "
        "data of an image input (`gr.Image`: `{url: data:image/png;base64,..., meta: {_type: "
        "gradio.FileData}}`); the answer's first output is read",
        "data.0",
    ),
}
ENCODINGS = ("none", "png", "jpeg", "base64-png", "base64-jpeg", "multipart")
GRADIO_CALLS = ("two-step", "one-step")
MLFLOW_FORMATS = ("dataframe_split", "inputs", "instances")


class ReadError(ValueError):
    """An answer that cannot be read as asked; its text completes 'answered HTTP 200 ...'."""


# -- JSON, bounded ---------------------------------------------------------------------
MAX_JSON_DEPTH = 100  # lists and objects nested in an answer, at most
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_OPEN = np.zeros(256, np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1
_CHUNK = 1 << 20


def json_depth(text: str) -> int:
    """How deep lists and objects nest in JSON text (brackets inside strings not counted),
    found without parsing it, in bounded memory."""
    data = np.frombuffer(_STRINGS.sub("", text).encode("utf-8", "replace"), np.uint8)
    deepest = level = 0
    for start in range(0, len(data), _CHUNK):
        steps = _OPEN[data[start : start + _CHUNK]]
        if not steps.any():
            continue
        levels = level + np.cumsum(steps, dtype=np.int64)
        deepest = max(deepest, int(levels.max()))
        level = int(levels[-1])
    return deepest


def parse_json(text: str) -> Any:
    """JSON text as Python values; :class:`ReadError` when it nests deeper than
    :data:`MAX_JSON_DEPTH`, ``json.JSONDecodeError`` (a ``ValueError``) when it is not JSON."""
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise ReadError(f"with JSON nested {depth:,} deep; accepted: at most {MAX_JSON_DEPTH} deep")
    return json.loads(text)


# -- paths -----------------------------------------------------------------------------
def resolve(value: Any, steps: Sequence[str | int], text: str) -> Any:
    """The part of an answer at a path: keys, indices, and ``*`` for every item of a list
    (or every value of a mapping), in order."""
    for i, step in enumerate(steps):
        here = ".".join(map(str, steps[: i + 1]))
        if step == WILDCARD:
            if isinstance(value, Mapping):
                items = list(value.values())
            elif isinstance(value, list):
                items = value
            else:
                raise ReadError(f"without a list at {here!r} (the probabilities path {text!r})")
            return [resolve(item, steps[i + 1 :], text) for item in items]
        if isinstance(value, Mapping) and str(step) in value:
            value = value[str(step)]
        elif isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value):
            value = value[step]
        else:
            raise ReadError(f"without {here!r} (the probabilities path {text!r})")
    return value


# -- scores ----------------------------------------------------------------------------
def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _entry(v: Any) -> tuple[Any, Any] | None:
    """``(label, score)`` of a ``{label, score}`` mapping, else None."""
    if not isinstance(v, Mapping):
        return None
    label = next((v[k] for k in LABEL_KEYS if k in v), None)
    score = next((v[k] for k in SCORE_KEYS if k in v), None)
    if label is None or score is None:
        return None
    return label, score


def _is_row(v: Any) -> bool:
    """Whether a value is one row's scores (not a list of rows)."""
    if isinstance(v, Mapping):
        return True
    return isinstance(v, list) and bool(v) and all(_number(e) or _entry(e) is not None for e in v)


def _class_index(label: Any, classes: Sequence[str] | None, n: int | None) -> int:
    if isinstance(label, str) and classes is not None and label in classes:
        return list(classes).index(label)
    if isinstance(label, bool):
        raise ReadError(f"with the label {label!r}")
    index: int | None = None
    if isinstance(label, int):
        index = label
    elif isinstance(label, float) and label.is_integer():
        index = int(label)
    elif isinstance(label, str) and label.strip().lstrip("-").isdigit():
        index = int(label)
    if index is None or (n is not None and not 0 <= index < n) or index < 0:
        known = f"; the classes are {', '.join(classes)}" if classes else ""
        raise ReadError(f"with the label {label!r}, which names no class{known}")
    return index


def _keyed(pairs: list[tuple[Any, Any]], classes: Sequence[str] | None, n: int | None) -> np.ndarray:
    """A row from ``(label, score)`` pairs; classes not named are NaN (filled later)."""
    if n is None:
        raise ReadError("with scores keyed by label, which needs the target's classes")
    row = np.full(n, np.nan)
    for label, score in pairs:
        if isinstance(score, (list, Mapping)):
            raise ReadError(
                f"with rows that are objects (their {label!r} is not a score): pick the scores with a path "
                f"ending in *.{label}"
            )
        if not _number(score):
            raise ReadError(f"with the score {score!r} for {label!r}, which is not a number")
        if not math.isfinite(score):
            raise ReadError("with NaN or infinite values")
        i = _class_index(label, classes, n)
        if not np.isnan(row[i]):
            raise ReadError(f"with two scores for the class {label!r}")
        row[i] = float(score)
    return row


def _row(v: Any, classes: Sequence[str] | None, n: int | None) -> np.ndarray:
    if isinstance(v, Mapping):
        if "confidences" in v and isinstance(v["confidences"], list):  # Gradio's Label output
            return _row(v["confidences"], classes, n)
        return _keyed(list(v.items()), classes, n)
    if isinstance(v, list) and v and all(_entry(e) is not None for e in v):
        return _keyed([_entry(e) for e in v], classes, n)  # type: ignore[misc]
    if isinstance(v, list) and all(_number(e) for e in v):
        if not v:
            raise ReadError("with empty rows")
        row = np.asarray(v, np.float64)
        if not np.isfinite(row).all():
            raise ReadError("with NaN or infinite values")
        return row
    raise ReadError(f"with a row that holds neither numbers nor {{label, score}} entries: {json.dumps(v)[:80]}")


def read_scores(
    value: Any, rows: int, classes: Sequence[str] | None, n_classes: int | None, logits: bool, where: str
) -> np.ndarray:
    """``(rows, classes)`` float64 scores from the part of an answer that holds them.

    Accepted: a list of rows (one row when ``rows`` is 1 may stand alone), a row being a
    list of numbers, a mapping of class names (or indices) to scores, a list of
    ``{label, score}`` entries (``confidence`` or ``probability`` for ``score``; Gradio's
    ``{label, confidences}``), or one mapping of class names to lists of ``rows`` scores.
    Probabilities of a top-k answer (classes missing from a row) leave the rest of the
    mass, ``1 - sum``, which is spread evenly over the missing classes; logits must name
    every class."""
    n = n_classes if n_classes is not None else (len(classes) if classes else None)
    if (
        isinstance(value, Mapping)
        and value
        and all(isinstance(v, list) and len(v) == rows and all(_number(e) for e in v) for v in value.values())
    ):  # columns keyed by class
        columns = list(value.items())
        value = [{k: v[r] for k, v in columns} for r in range(rows)]
    if rows == 1 and _is_row(value):
        value = [value]
    if not isinstance(value, list):
        raise ReadError(f"with {type(value).__name__} at {where!r}; expected a list of rows")
    lists = [v for v in value if isinstance(v, list)]
    numeric = [v for v in lists if all(_number(e) for e in v)]
    if len(numeric) == len(value) and len({len(v) for v in numeric}) > 1:
        raise ReadError("with rows of different lengths")
    if any(isinstance(e, (str, bool)) or e is None for v in lists for e in v):
        raise ReadError(f"with non-numeric values at {where!r}")
    if value and all(not isinstance(v, (list, Mapping)) for v in value):
        if all(_number(v) for v in value):
            raise ReadError(f"with an array of shape ({len(value)},); expected (rows, classes)")
        raise ReadError(f"with non-numeric values at {where!r} (an answer of labels needs outputs: labels)")
    if len(value) != rows:
        raise ReadError(f"with {len(value)} rows for {rows} inputs")
    parts = [_row(v, classes, n) for v in value]
    widths = {len(p) for p in parts}
    if len(widths) > 1:
        raise ReadError("with rows of different lengths")
    arr = np.stack(parts)
    missing = np.isnan(arr)
    if missing.any():
        if logits:
            row = int(missing.any(axis=1).argmax())
            raise ReadError(f"with scores for {int((~missing[row]).sum())} of {arr.shape[1]} classes in row {row}")
        seen = np.where(missing, 0.0, arr).sum(axis=1)
        rest = np.clip(1.0 - seen, 0.0, None) / np.maximum(missing.sum(axis=1), 1)
        arr = np.where(missing, rest[:, None], arr)
    return arr


def read_labels(value: Any, rows: int, classes: Sequence[str] | None, n_classes: int | None, where: str) -> np.ndarray:
    """One-hot ``(rows, classes)`` rows from an answer of one label per row (a class name
    or index, or a list holding one)."""
    n = n_classes if n_classes is not None else (len(classes) if classes else None)
    if n is None:
        raise ReadError("with labels, which needs the target's classes")
    if rows == 1 and not isinstance(value, list):
        value = [value]
    if not isinstance(value, list):
        raise ReadError(f"with {type(value).__name__} at {where!r}; expected a list of labels")
    if len(value) != rows:
        raise ReadError(f"with {len(value)} labels for {rows} inputs")
    out = np.zeros((rows, n), np.float64)
    for r, label in enumerate(value):
        if isinstance(label, list) and len(label) == 1:
            label = label[0]
        if isinstance(label, Mapping):
            found = next((label[k] for k in LABEL_KEYS if k in label), None)
            if found is None:
                raise ReadError(f"with a label entry without {' or '.join(LABEL_KEYS)}: {json.dumps(label)[:80]}")
            label = found
        if isinstance(label, (list, Mapping)) or label is None:
            raise ReadError(f"with {json.dumps(label)[:80]} where a label was expected (row {r})")
        out[r, _class_index(label, classes, n)] = 1.0
    return out


# -- the Open Inference Protocol (KServe v2) --------------------------------------------
def kserve_v2_request(chunk: np.ndarray, input_name: str, output_name: str | None) -> dict[str, Any]:
    """The request body for a batch: one FP32 tensor of the batch's shape, data flat."""
    body: dict[str, Any] = {
        "inputs": [
            {
                "name": input_name,
                "shape": list(chunk.shape),
                "datatype": "FP32",
                "data": chunk.reshape(-1).tolist(),
            }
        ]
    }
    if output_name:
        body["outputs"] = [{"name": output_name}]
    return body


def kserve_v2_output(answer: Any, output_name: str | None, rows: int) -> list[Any]:
    """The chosen output of an answer, one item per row (a row of scores or a label)."""
    outputs = answer.get("outputs") if isinstance(answer, Mapping) else None
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, Mapping) for o in outputs):
        raise ReadError("without an 'outputs' list (the Open Inference Protocol's answer)")
    if output_name:
        chosen = [o for o in outputs if o.get("name") == output_name]
        if not chosen:
            names = ", ".join(str(o.get("name")) for o in outputs)
            raise ReadError(f"without the output {output_name!r} (output_name); its outputs: {names}")
        output = chosen[0]
    else:
        output = outputs[0]
    data, shape = output.get("data"), output.get("shape")
    if not isinstance(data, list) or not isinstance(shape, list) or not all(isinstance(s, int) for s in shape):
        raise ReadError(f"with the output {output.get('name')!r} lacking a flat 'data' list and a 'shape'")
    if math.prod(shape) != len(data):
        raise ReadError(f"with the output {output.get('name')!r} of shape {shape} holding {len(data)} values")
    if not shape or shape[0] != rows:
        raise ReadError(f"with the output {output.get('name')!r} of shape {shape} for {rows} inputs")
    width = math.prod(shape[1:]) if len(shape) > 1 else 1
    if len(shape) == 1:
        return list(data)
    return [data[r * width : (r + 1) * width] for r in range(rows)]


# -- Gradio's event stream -------------------------------------------------------------
def gradio_events(text: str) -> list[tuple[str, Any]]:
    """The ``(event, data)`` pairs of a server-sent event stream, data parsed as JSON."""
    events: list[tuple[str, Any]] = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if not data and name == "message":
            continue
        joined = "\n".join(data)
        try:
            parsed = parse_json(joined) if joined else None
        except ReadError:
            raise
        except ValueError:
            parsed = joined
        events.append((name, parsed))
    return events


# -- images ----------------------------------------------------------------------------
def quantise(x: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """A batch in ``bounds`` as 8-bit pixels: ``round(255 * (x - lo) / (hi - lo))``, clipped."""
    lo, hi = bounds
    scaled = (np.asarray(x, np.float64) - lo) / (hi - lo)
    return np.clip(np.rint(np.clip(scaled, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)


def _hwc(row: np.ndarray, channels_last: bool) -> np.ndarray:
    """One image as ``(H, W)`` or ``(H, W, C)``, as PIL takes it."""
    if row.ndim == 2:
        return row
    if row.ndim != 3:
        raise ValueError(f"an image needs 2 or 3 dimensions; a row has shape {list(row.shape)}")
    img = row if channels_last else np.moveaxis(row, 0, -1)
    if img.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image has 1, 3 or 4 channels; a row of shape {list(row.shape)} has {img.shape[-1]}")
    return img[..., 0] if img.shape[-1] == 1 else img


def encode_image(pixels: np.ndarray, fmt: str, channels_last: bool, quality: int) -> bytes:
    """One 8-bit image (a row of :func:`quantise`) as PNG or JPEG bytes."""
    from PIL import Image

    img = Image.fromarray(_hwc(pixels, channels_last))
    if fmt == "jpeg" and img.mode == "RGBA":
        raise ValueError("JPEG has no alpha channel; use png for 4-channel images")
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG")
    else:
        img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decoded(data: bytes, like: np.ndarray, channels_last: bool, bounds: tuple[float, float]) -> np.ndarray:
    """The image a server decodes from ``data``, back in the layout and range of ``like``
    (one row): the 8-bit pixels mapped onto ``bounds``."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(data)))
    if like.ndim == 3:
        channels = like.shape[-1] if channels_last else like.shape[0]
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        pixels = pixels[..., :channels]
        if not channels_last:
            pixels = np.moveaxis(pixels, -1, 0)
    lo, hi = bounds
    return (pixels.astype(np.float64) / 255.0 * (hi - lo) + lo).astype(np.float32).reshape(like.shape)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def multipart(field_name: str, files: Sequence[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A ``multipart/form-data`` body of files ``(filename, content type, bytes)`` under one
    field name, and its content type (with the boundary)."""
    import uuid

    boundary = f"feint-{uuid.uuid4().hex}"
    out = io.BytesIO()
    for filename, ctype, data in files:
        out.write(f"--{boundary}\r\n".encode())
        out.write(f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'.encode())
        out.write(f"Content-Type: {ctype}\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"
