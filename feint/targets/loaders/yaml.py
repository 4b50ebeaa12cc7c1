"""Targets declared without code: a YAML file naming a model, its samples and its shape.

```yaml
name: my_digits
model: digits.keras              # a file beside this YAML, or {endpoint: {url: ...}}
data_type: image                 # image | tabular
input_shape: [1, 8, 8]           # feint's layout: channels first
classes: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
bounds: [0, 1]
channels: last                   # the model's own channel order; feint transposes
preprocess: {scale: 16, mean: 0.5, std: 0.25}   # inside the model: (x * scale - mean) / std
samples: {npz: digits.npz, x: X, y: y}
```

Paths are relative to the YAML file's folder. The model file's extension picks its
adapter (:mod:`feint.targets.adapters`); Keras and PyTorch files are open-box, ONNX,
scikit-learn and endpoints closed-box. Preprocessing runs inside the model wrapper, so
attacks work in the raw input space (``bounds``) and gradients flow through it.

The keys a declaration accepts are declared once, each with a one-line doc: :data:`KEYS`,
:data:`MODEL_KEYS`, :data:`PREPROCESS_KEYS` here and
:data:`~feint.targets.loaders.samples.SAMPLE_KEYS`. The checks read their accepted keys
from them, and the documentation's YAML reference is generated from them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from feint.errors import CodeFailed, FeintError, exception_line
from feint.targets.adapters import ModelAdapter, ModelContext
from feint.targets.base import LoadedTarget, label_rows
from feint.targets.loaders.checks import Checker, Key, key_names, number, shape_too_large, shown, user_code
from feint.targets.loaders.samples import load_samples
from feint.targets.preprocess import Preprocess

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "DeclaredTarget",
    "load_yaml_target",
    "KEYS",
    "MODEL_KEYS",
    "PREPROCESS_KEYS",
    "ACCEPTED_KEYS",
    "REQUIRED_KEYS",
]

# The keys of a declaration, in the order messages and the reference list them.
KEYS: tuple[Key, ...] = (
    Key("name", "the target's name, without spaces", required=True),
    Key(
        "model",
        "a model file (its extension picks the adapter), `{file: FILE}`, or `{endpoint: {url: ..., ...}}`",
        required=True,
    ),
    Key(
        "data_type", "`image`, `tabular` or `text` (samples are strings; the model takes a list of them)", required=True
    ),
    Key(
        "input_shape",
        "a list of positive integers; images `[channels, height, width]`; required for image and tabular "
        "targets, left out for text",
    ),
    Key("classes", "class names (at least two), in the order of the model's outputs", required=True),
    Key(
        "samples",
        "a file (`.npz`, `.npy`, `.csv`), a folder of images with one sub-folder per class, or a mapping "
        "of one kind of samples and the names inside it (`samples.*` below). Labels may be class names "
        "or indices; arrays of shape (N, height, width, channels) are transposed, flat rows are read "
        "channels first",
        required=True,
    ),
    Key("description", "a line for `describe()` and reports"),
    Key("bounds", "`[lo, hi]`: every sample must lie inside", default="[0, 1]"),
    Key(
        "channels",
        "`first` or `last`: the order the model takes; samples stay channels first and attacks work on "
        "them, the wrapper transposes",
        default="first",
    ),
    Key(
        "preprocess",
        "`scale`, `mean`, `std` (`preprocess.*` below), applied inside the model wrapper: attacks work "
        "in the raw input space (`bounds`) and gradients flow through the preprocessing",
    ),
    Key(
        "outputs",
        "`auto`, `logits`, `probabilities` or `labels`: what the model returns; `auto` tells logits "
        "and probabilities apart on the first samples; one score per row of a two-class model (a "
        "sigmoid) is read as `[1 - p, p]`; `labels` declares a model that tells only its "
        "decision (a class index or name per row; a model that returns scores is then read by its top "
        "class only): decision-based attacks run on it and its confidences are absent. Refused with an "
        "endpoint, whose own `outputs` option says it",
        default="auto",
    ),
    Key(
        "trust",
        "refused: a file cannot opt itself into running code; the person running feint does, with "
        "`--trust-model` (`trust: false` is accepted and changes nothing)",
        default="false",
    ),
    Key(
        "columns",
        "tabular targets: the feature names, in the samples' order (one per feature). With a CSV they "
        "pick and order its columns by name (default: every column but the label, named by the header); "
        "a model fitted on a DataFrame gets one with these columns, an ONNX model with one input per "
        "column each its column",
    ),
    Key(
        "inputs",
        "ONNX models: constants for the inputs besides the samples' one, by input name: a number (the "
        "input's declared shape filled with it), a list (as given), `zeros` or `ones` (the declared "
        "shape and type; a free dimension named as the samples' batch dimension takes the batch size, "
        "any other 1), e.g. `{sr: 16000, state: zeros}`",
    ),
    Key(
        "output",
        "ONNX models: the output holding the class scores, by name or index (default: the first "
        "(N, classes) float tensor, else the first ZipMap, else the first (N,) float tensor)",
    ),
    Key(
        "tokenizer",
        "text targets whose ONNX, Keras 3 or TorchScript model takes token ids: `vocabulary` (a text file, one token a line, "
        "the line's number from 0 its id), `max_length` (ids per text: the model's fixed length, else "
        "256; longer texts are cut), `lowercase` (default true), `unknown` (the token of words outside "
        "the vocabulary, default `<unk>`), `pad` (the id that pads, default 0). Words are runs of "
        "letters, digits and inner apostrophes",
    ),
)
TOKENIZER_KEYS = ("vocabulary", "max_length", "lowercase", "unknown", "pad")
MODEL_KEYS: tuple[Key, ...] = (
    Key("endpoint", "an HTTP endpoint: its options are the endpoint options"),
    Key("file", "a model file, relative to the YAML file's folder"),
)
PREPROCESS_KEYS: tuple[Key, ...] = (
    Key("scale", "a non-zero number the raw values are multiplied by first", default="1"),
    Key("mean", "subtracted after scaling: a number, or one per channel for images, one per feature for tabular data"),
    Key("std", "divided by last: a positive number, or one per channel or per feature"),
)
REQUIRED_KEYS = tuple(k.name for k in KEYS if k.required)
ACCEPTED_KEYS = key_names(KEYS)
DECLARED_TYPES = ("image", "tabular", "text")
# rows judged once at load to tell probabilities from logits
_PROBE_ROWS = 32
# The reader's limits: a declaration's size, nesting and values with its aliases expanded.
MAX_YAML_BYTES = 1 << 20
MAX_YAML_DEPTH = 64
MAX_YAML_VALUES = 100_000


def _wrap_module(
    net: torch.nn.Module,
    pre: Preprocess,
    reshape_to: tuple[int, ...] | None,
    log_outputs: bool,
    where: str = "",
    one_column: str | None = None,
) -> torch.nn.Module:
    """The model as feint calls it: a batch in feint's layout to logits. ``one_column``: how a
    model with one output per row (a sigmoid) is read as two classes (:func:`_two_logits`)."""
    import torch

    class Declared(torch.nn.Module):
        """feint's batch (channels first, raw values) -> the model's input -> logits."""

        def __init__(self) -> None:
            super().__init__()
            self.pre = pre.module()
            self.net = net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.pre(x)
            if reshape_to is not None:
                z = z.reshape(len(z), *reshape_to)
            with user_code(where, "the model"):
                out = self.net(z)
            if one_column is not None:
                return _two_logits(out, one_column)
            if log_outputs:  # probabilities: their logs are logits whose softmax gives them back
                out = torch.log(out.clamp_min(1e-12))
            return out

    module = Declared()
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def _two_logits(out: torch.Tensor, how: str) -> torch.Tensor:
    """One score per row as the logits of two classes: ``p`` (``how == "probabilities"``,
    the probability of the second class) gives ``[log(1 - p), log(p)]``, a logit ``z`` gives
    ``[0, z]``; the softmax of either is ``[1 - p, p]`` with ``p = sigmoid(z)``."""
    import torch

    col = out.reshape(len(out))
    if how == "probabilities":
        return torch.stack([torch.log((1 - col).clamp_min(1e-12)), torch.log(col.clamp_min(1e-12))], dim=1)
    return torch.stack([torch.zeros_like(col), col], dim=1)


def _one_column(scores: np.ndarray, classes: int, declared: str) -> str | None:
    """How a model that answers one score per row is read as two classes (``probabilities``
    or ``logits``), or None for a model that answers a row of scores per class. ``declared``:
    the declaration's ``outputs``; with ``auto``, probabilities when every score of the
    first batch lies in [0, 1], logits otherwise."""
    s = np.asarray(scores, np.float64)
    if classes != 2 or not (s.ndim == 1 or (s.ndim == 2 and s.shape[1] == 1)):
        return None
    if declared in ("probabilities", "logits"):
        return declared
    return "probabilities" if s.size and s.min() >= 0.0 and s.max() <= 1.0 else "logits"


def _looks_like_probabilities(scores: np.ndarray) -> bool:
    s = np.asarray(scores, np.float64)
    return bool(s.size) and s.min() >= -1e-6 and s.max() <= 1 + 1e-6 and np.allclose(s.sum(1), 1.0, atol=1e-3)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _endpoint(config: Any, where: str, target: DeclaredTarget, samples: Any, base: Path) -> ModelAdapter:
    if not isinstance(config, Mapping):
        raise FeintError(f"{where}: expects a mapping with url and the endpoint's settings; got {shown(config)}")
    from feint.targets.adapters.http import HttpModel
    from feint.targets.loaders.samples import feature_columns

    pre = target._pre
    return HttpModel.from_config(
        dict(config),
        where,
        n_classes=len(target.output_classes),
        classes=target.output_classes,
        columns=feature_columns(samples, base),
        bounds=target.bounds,
        channels_last=pre.channels_last,
        scaled=pre.scale != 1.0 or pre.mean is not None or pre.std is not None,
    )


# -- the declaration ------------------------------------------------------------------------
def _parse(doc: Any, check: Checker, base: Path, trust: bool) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise check.error("", f"expects a mapping of keys ({', '.join(ACCEPTED_KEYS)}); got {shown(doc)}")
    check.keys("", doc, ACCEPTED_KEYS)
    for k in REQUIRED_KEYS:
        if k not in doc:
            raise check.error("", f"missing key {k!r}; required: {', '.join(REQUIRED_KEYS)}")
    out: dict[str, Any] = {}

    name = doc["name"]
    if not isinstance(name, str) or not name.strip() or any(ch.isspace() for ch in name.strip()):
        raise check.expect("name", "a target name without spaces", name)
    out["name"] = name.strip()
    desc = doc.get("description", "")
    if not isinstance(desc, str):
        raise check.expect("description", "text", desc)
    out["description"] = desc

    dtype = doc["data_type"]
    if dtype not in DECLARED_TYPES:
        raise check.expect("data_type", f"one of {', '.join(DECLARED_TYPES)}", dtype)
    out["data_type"] = dtype

    shape = doc.get("input_shape", [] if dtype == "text" else None)
    if dtype == "text":
        if shape not in ([], None):
            raise check.error("input_shape", "a text target's samples are strings: leave input_shape out")
        shape = [1]  # checked below; a text target's own shape is ()
    elif shape is None:
        raise check.error("", "missing key 'input_shape'; required for image and tabular targets")
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise check.expect("input_shape", "a list of positive integers", shape)
    too_large = shape_too_large(shape)
    if too_large:
        raise check.error("input_shape", f"{shape} {too_large}")
    if dtype == "image" and len(shape) != 3:
        raise check.expect("input_shape", "[channels, height, width] for an image target (channels first)", shape)
    out["input_shape"] = () if dtype == "text" else tuple(shape)

    classes = doc["classes"]
    if (
        not isinstance(classes, list)
        or len(classes) < 2
        or not all(isinstance(c, (str, int)) and not isinstance(c, bool) for c in classes)
    ):
        raise check.expect("classes", "a list of at least two class names", classes)
    names = tuple(str(c) for c in classes)
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise check.error("classes", f"class {dup!r} is named twice; class names must differ")
    out["classes"] = names

    bounds = doc.get("bounds", [0.0, 1.0])
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(number(b) for b in bounds) and bounds[0] < bounds[1]):
        raise check.expect("bounds", "[lo, hi], two numbers with lo < hi", bounds)
    out["bounds"] = (float(bounds[0]), float(bounds[1]))

    channels = doc.get("channels", "first")
    if channels not in ("first", "last"):
        raise check.expect("channels", "first or last (the model's channel order)", channels)
    if channels == "last" and dtype != "image":
        raise check.error("channels", "applies to image targets only")
    out["channels_last"] = channels == "last"

    outputs = doc.get("outputs", "auto")
    if outputs not in ("auto", "logits", "probabilities", "labels"):
        raise check.expect("outputs", "auto, logits, probabilities or labels (what the model returns)", outputs)
    out["outputs"] = outputs

    trust_key = doc.get("trust", False)
    if not isinstance(trust_key, bool):
        raise check.expect("trust", "true or false", trust_key)
    if trust_key and not trust:
        raise check.error(
            "trust",
            "a target file cannot trust its own model files; if you trust them, pass --trust-model "
            "on the command line (trust_model=True in the library)",
        )
    out["trust"] = trust

    out["preprocess"] = _preprocess(doc.get("preprocess"), check, out["input_shape"], dtype, out["channels_last"])
    out["columns"] = _columns(doc.get("columns"), check, out["input_shape"], dtype)
    out["inputs"] = _inputs(doc.get("inputs"), check)
    output = doc.get("output")
    if output is not None and not (
        (isinstance(output, str) and output.strip())
        or (isinstance(output, int) and not isinstance(output, bool) and output >= 0)
    ):
        raise check.expect("output", "an output's name or index (0 for the first)", output)
    out["output"] = output

    model = doc["model"]
    if isinstance(model, str):
        path = check.file("model", base, model)
        out["model"] = ("file", path)
    elif isinstance(model, Mapping):
        check.keys("model", model, key_names(MODEL_KEYS))
        if len(model) != 1:
            raise check.error("model", "expects one of endpoint or file")
        if "endpoint" in model:
            if "outputs" in doc:
                raise check.error("outputs", "an endpoint says what it returns itself: set model.endpoint.outputs")
            for k in ("inputs", "output"):
                if k in doc:
                    raise check.error(k, "applies to ONNX model files, not to an endpoint")
            out["model"] = ("endpoint", model["endpoint"])
        else:
            out["model"] = ("file", check.file("model.file", base, model["file"]))
    else:
        raise check.expect(
            "model", "a model file (relative to the YAML file's folder) or {endpoint: {url: ...}}", model
        )
    out["samples"] = doc["samples"]
    out["tokenizer"] = _tokenizer(doc.get("tokenizer"), check, base, dtype)
    return out


def _tokenizer(value: Any, check: Checker, base: Path, dtype: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if dtype != "text":
        raise check.error("tokenizer", "applies to text targets only")
    if not isinstance(value, Mapping) or "vocabulary" not in value:
        raise check.expect("tokenizer", "a mapping with a vocabulary file, e.g. {vocabulary: vocab.txt}", value)
    check.keys("tokenizer", value, TOKENIZER_KEYS)
    path = check.file("tokenizer.vocabulary", base, value["vocabulary"])
    try:
        tokens = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise check.error("tokenizer.vocabulary", f"cannot read {path.name} ({type(exc).__name__})") from None
    length = value.get("max_length")
    if length is not None and (not isinstance(length, int) or isinstance(length, bool) or length < 1):
        raise check.expect("tokenizer.max_length", "a positive integer", length)
    lower = value.get("lowercase", True)
    if not isinstance(lower, bool):
        raise check.expect("tokenizer.lowercase", "true or false", lower)
    unknown = value.get("unknown", "<unk>")
    index = {t: i for i, t in enumerate(tokens)}
    if unknown not in index:
        raise check.error("tokenizer.unknown", f"{unknown!r} is not a token of {path.name}; name its unknown token")
    pad = value.get("pad", 0)
    if not isinstance(pad, int) or isinstance(pad, bool) or not 0 <= pad < len(tokens):
        raise check.expect("tokenizer.pad", f"a token id from 0 to {len(tokens) - 1}", pad)
    return {
        "index": index,
        "max_length": length,
        "lowercase": lower,
        "unknown": index[unknown],
        "pad": pad,
        "vocabulary": str(path),
    }


def _columns(value: Any, check: Checker, shape: tuple[int, ...], dtype: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    width = int(np.prod(shape))
    if not (isinstance(value, list) and value and all(isinstance(c, str) and c.strip() for c in value)):
        raise check.expect("columns", f"a list of {width} column names", value)
    if dtype != "tabular":
        raise check.error("columns", "applies to tabular targets only")
    names = tuple(c.strip() for c in value)
    if len(names) != width:
        raise check.error("columns", f"names {len(names)} columns; input_shape {list(shape)} has {width} features")
    if len(set(names)) != len(names):
        raise check.error("columns", f"column {next(n for n in names if names.count(n) > 1)!r} is named twice")
    return names


def _constant(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(_constant(v) for v in value)
    return number(value) or isinstance(value, bool)


def _inputs(value: Any, check: Checker) -> dict[str, Any]:
    from feint.targets.adapters.onnx_model import CONSTANT_WORDS

    if value is None:
        return {}
    accepted = f"a number, a list of numbers, {' or '.join(CONSTANT_WORDS)}"
    if not isinstance(value, Mapping) or not value:
        raise check.expect("inputs", f"a mapping of input names to constants ({accepted})", value)
    for name, constant in value.items():
        if not isinstance(name, str):
            raise check.expect("inputs", "input names (text) as keys", name)
        if not (constant in CONSTANT_WORDS or _constant(constant)):
            raise check.expect(f"inputs.{name}", accepted, constant)
    return dict(value)


def _preprocess(value: Any, check: Checker, shape: tuple[int, ...], dtype: str, channels_last: bool) -> Preprocess:
    if value is None:
        return Preprocess(channels_last=channels_last)
    if not isinstance(value, Mapping):
        raise check.expect("preprocess", "a mapping of scale, mean, std", value)
    check.keys("preprocess", value, key_names(PREPROCESS_KEYS))
    scale = value.get("scale", 1.0)
    if not number(scale) or scale == 0:
        raise check.expect("preprocess.scale", "a non-zero number", scale)
    # per channel for images (broadcast over height and width), per feature for tabular data
    width = shape[0] if dtype == "image" else int(np.prod(shape))
    view = (shape[0], 1, 1) if dtype == "image" else tuple(shape)

    def vector(key: str, positive: bool) -> np.ndarray | None:
        if key not in value:
            return None
        v = value[key]
        unit = "channel" if dtype == "image" else "feature"
        ok = number(v) or (isinstance(v, list) and len(v) == width and all(number(e) for e in v))
        if not ok:
            raise check.expect(f"preprocess.{key}", f"a number or a list of {width} numbers (one per {unit})", v)
        arr = np.asarray(v, np.float32)
        if positive and np.any(arr <= 0):
            raise check.expect(f"preprocess.{key}", "positive numbers", v)
        return arr.reshape(view) if arr.ndim else arr.reshape(())

    return Preprocess(float(scale), vector("mean", False), vector("std", True), channels_last)


class DeclaredTarget(LoadedTarget):
    """A target built from a declaration: a model file or endpoint, its samples, its shape."""

    def __init__(self, config: Mapping[str, Any], source: Path, where: str, base: Path) -> None:
        self.target_name = config["name"]
        self.data_type = config["data_type"]
        self.input_shape = tuple(config["input_shape"])
        self.output_classes = tuple(config["classes"])
        lo, hi = config["bounds"]
        self.bounds = (float(lo), float(hi))
        super().__init__()
        self.source = source
        self.spec = str(source)
        self.trusted = bool(config["trust"])
        self._config = dict(config)
        self._check = Checker(where)
        self._base = base
        self._pre: Preprocess = config["preprocess"]
        self._log_outputs = False
        self._softmax_scores = False
        self._one_column: str | None = None  # a model with one score per row: how it is read as two classes
        self._reshape: tuple[int, ...] | None = None
        self._tokenizer: dict[str, Any] | None = None
        kind, value = config["model"]
        self.adapter: ModelAdapter
        if kind == "endpoint":
            self.adapter = _endpoint(value, f"{where}: model.endpoint", self, config["samples"], base)
        else:
            from feint.targets.adapters import adapter_for

            self.adapter = adapter_for(value, f"{where}: model", trust=self.trusted)
        for k in ("inputs", "output"):
            if config.get(k) not in (None, {}) and k not in self.adapter.reads:
                raise self._check.error(k, f"applies to ONNX models; {Path(value).name} is not one")
        self.columns: tuple[str, ...] | None = config.get("columns")
        if config["outputs"] == "labels" or self.adapter.outputs == "labels":
            self.outputs = "labels"  # the model tells its decision only
        # a text model is called on token ids: no gradients reach the text
        self._open_box = bool(self.adapter.open_box) and self.outputs != "labels" and self.data_type != "text"
        self.description = config["description"] or (
            f"{self.adapter.kind} model {value if kind == 'file' else value.get('url', '')} "
            f"declared in {source.name}; {'open-box' if self._open_box else 'closed-box'}"
        )

    def _load_text(self) -> None:
        """A text target: strings in, scores out; closed-box (a torch, Keras or ONNX model given
        token ids by the declared tokenizer is called on them and its scores read back)."""
        from feint.targets.loaders.samples import load_text_samples

        c = self._config
        self.X, self.y, samples_from = load_text_samples(c["samples"], self._base, self._check, self.output_classes)
        self.columns = None
        self._open_box = False
        self._tokenizer = c.get("tokenizer")
        self.adapter.context = ModelContext(
            classes=tuple(self.output_classes),
            columns=None,
            outputs=c["outputs"],
            inputs=c.get("inputs") or {},
            output=c.get("output"),
            token_ids=self._tokenizer is not None,
        )
        with user_code(f"{self._check.where}: model", "loading the model"):
            self.adapter.load()
        if self.adapter.outputs == "labels":
            self.outputs = "labels"
        if self.adapter.open_box and self._tokenizer is None:
            raise self._check.error(
                "tokenizer",
                f"{self.adapter.kind} text models take token ids: declare the tokenizer "
                "({vocabulary: vocab.txt}); a model that takes strings is a skops pipeline or an endpoint",
            )
        if self._tokenizer is not None and not self._tokenizer["max_length"]:
            fixed = self.adapter.expected_input_shape()
            self._tokenizer["max_length"] = fixed[-1] if fixed and isinstance(fixed[-1], int) else 256
        probe = self.X[:_PROBE_ROWS]
        if self.outputs != "labels" and self.adapter.outputs != "probabilities":
            if c["outputs"] == "auto":
                scores = self._call_model(lambda: self._raw_predict(probe))
                self._check_scores(scores)
                self._softmax_scores = not _looks_like_probabilities(scores)
            else:
                self._softmax_scores = c["outputs"] == "logits"
        self.info = {"source": str(self.source), **self.adapter.describe(), "samples_from": samples_from}
        if self._tokenizer is not None:
            self.info["tokenizer"] = {
                "vocabulary": self._tokenizer["vocabulary"],
                "tokens": len(self._tokenizer["index"]),
                "max_length": self._tokenizer["max_length"],
            }

    def _token_ids(self, texts: np.ndarray) -> np.ndarray:
        """Texts as the tokenizer's ids ``(N, max_length)``, cut and padded."""
        import re

        tok = self._tokenizer
        assert tok is not None
        pattern = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
        length, index, unknown = tok["max_length"], tok["index"], tok["unknown"]
        out = np.full((len(texts), length), tok["pad"], np.int64)
        for row, text in enumerate(texts):
            words = pattern.findall(text.lower() if tok["lowercase"] else text)[:length]
            out[row, : len(words)] = [index.get(w, unknown) for w in words]
        return out

    def load(self) -> None:
        if self.data_type == "text":
            return self._load_text()
        c = self._config
        self.X, self.y, samples_from, self.columns, fixed = load_samples(
            c["samples"],
            self._base,
            self._check,
            self.input_shape,
            self.output_classes,
            self.bounds,
            self._pre.channels_last,
            columns=c.get("columns"),
        )
        if self.data_type != "tabular":
            self.columns, fixed = None, None
        self.fixed_columns, self.fixed_values = fixed if fixed is not None else ((), None)
        if self.fixed_columns and not self.adapter.takes_fixed:
            raise self._check.error(
                "samples",
                f"the columns {', '.join(self.fixed_columns)} hold text; a {self.adapter.kind} model takes numbers "
                "only (text columns are held fixed for a scikit-learn model fitted on a DataFrame)",
            )
        self.adapter.context = ModelContext(
            classes=tuple(self.output_classes),
            columns=self.columns,
            outputs=c["outputs"],
            inputs=c.get("inputs") or {},
            output=c.get("output"),
            fixed_columns=self.fixed_columns,
        )
        with user_code(f"{self._check.where}: model", "loading the model"):
            self.adapter.load()
        self.columns = self.columns or self.adapter.model_columns()
        if self.adapter.outputs == "labels":  # known once the model is read (a predict-only model)
            self.outputs, self._open_box = "labels", False
        self._check_shape()
        probe = self.X[:_PROBE_ROWS]
        k = len(self.output_classes)
        declared = "logits" if self.adapter.outputs == "logits" else c["outputs"]
        if self._open_box:
            import torch

            net = self.adapter.module()
            module = _wrap_module(net, self._pre, self._reshape, False)
            with torch.no_grad():
                scores = self._call_model(lambda: module(torch.as_tensor(probe)).numpy())
            self._one_column = _one_column(scores, k, declared)  # a sigmoid: two classes
            if self._one_column is not None or declared == "logits":
                log_outputs = False
            elif declared == "auto":
                self._check_scores(scores)
                log_outputs = _looks_like_probabilities(scores)
            else:
                log_outputs = declared == "probabilities"
            self._log_outputs = log_outputs
            wrapped = _wrap_module(
                net, self._pre, self._reshape, log_outputs, f"{self._check.where}: model", self._one_column
            )
            self._module = wrapped
            with torch.no_grad():
                self._check_scores(self._call_model(lambda: wrapped(torch.as_tensor(probe)).numpy()))
        elif self.outputs == "labels" or self.adapter.outputs == "probabilities":  # an endpoint reads its own
            self._softmax_scores = False
        else:
            with self.holding(np.arange(len(probe))):
                scores = self._call_model(lambda: self._raw_predict(probe))
            self._one_column = _one_column(scores, k, declared)
            if self._one_column is not None:
                self._softmax_scores = False
            elif declared == "auto":
                self._check_scores(scores)
                self._softmax_scores = not _looks_like_probabilities(scores)
            else:
                self._softmax_scores = declared == "logits"
        self.info = {
            "source": str(self.source),
            **self.adapter.describe(),
            "samples_from": samples_from,
        }
        if self._pre.describe():
            self.info["preprocess"] = self._pre.describe()
        if self._pre.channels_last:
            self.info["channels"] = "last"
        if self.columns:
            self.info["columns"] = list(self.columns)
        if self.fixed_columns:
            self.info["fixed_columns"] = list(self.fixed_columns)  # text the attacks leave as it is
        if self._one_column is not None:
            self.info["one_column"] = self._one_column  # read as [1 - p, p]

    def _call_model(self, fn: Callable[[], Any]) -> np.ndarray:
        try:
            return np.asarray(fn(), np.float64)
        except CodeFailed as failed:  # the model raised
            cause: BaseException = failed.__cause__ or failed
        except FeintError:
            raise
        except Exception as exc:  # feint's own steps around the model: the shape, the preprocessing
            cause = exc
        raise self._check.error(
            "model",
            f"the model failed on the samples ({exception_line(cause)}); check input_shape, channels and preprocess",
        ) from cause

    def _check_scores(self, scores: np.ndarray) -> None:
        k = len(self.output_classes)
        if scores.ndim != 2 or scores.shape[1] != k:
            raise self._check.error(
                "classes",
                f"the model returns scores of shape {list(scores.shape[1:])} per batch row; classes names {k} classes",
            )

    def _check_shape(self) -> None:
        expected = self.adapter.expected_input_shape()
        if expected is None:
            return
        ours = self._pre.model_shape(self.input_shape)
        if len(expected) == len(ours) and all(e is None or e == o for e, o in zip(expected, ours)):
            return
        flat = len(expected) == 1 or len(ours) == 1  # a model on flat features
        fixed = tuple(int(e) for e in expected if e is not None)
        if flat and len(fixed) == len(expected) and int(np.prod(fixed)) == int(np.prod(ours)):
            self._reshape = fixed
            return
        wanted = [e if e is not None else "any" for e in expected]
        hint = ""
        if len(ours) == 3 and len(expected) == 3:
            other = (
                (*self.input_shape[1:], self.input_shape[0]) if not self._pre.channels_last else tuple(self.input_shape)
            )
            if all(e is None or e == o for e, o in zip(expected, other)):
                hint = f"; set channels: {'first' if self._pre.channels_last else 'last'}"
        raise self._check.error(
            "input_shape",
            f"the model expects inputs of shape {wanted}; input_shape "
            f"{list(self.input_shape)} with channels: "
            f"{'last' if self._pre.channels_last else 'first'} gives "
            f"{list(ours)}{hint}",
        )

    def _raw_predict(self, x: np.ndarray) -> np.ndarray:
        if self.data_type == "text":
            from feint.targets.text import as_texts, text_array

            batch: Any = text_array(as_texts(x))
            if self._tokenizer is not None:
                batch = self._token_ids(batch)
            with user_code(f"{self._check.where}: model", "the model"):
                if self.adapter.open_box:  # a torch or Keras model: called on the ids, scores read back
                    import torch

                    with torch.no_grad():
                        scores = self.adapter.module()(torch.as_tensor(batch))
                    answer = np.asarray(scores.detach().cpu().numpy() if hasattr(scores, "detach") else scores)
                else:
                    answer = np.asarray(self.adapter.predict(batch))
            if answer.dtype.kind in "OUS":
                return label_rows(answer.ravel(), self.output_classes).argmax(axis=1)
            return np.asarray(answer, np.float64)
        z = self._pre.numpy(x)
        if self._reshape is not None:
            z = z.reshape(len(z), *self._reshape)
        fixed = self.held_values(len(z)) if self.fixed_columns else None
        with user_code(f"{self._check.where}: model", "the model"):
            answer = np.asarray(self.adapter.predict(z) if fixed is None else self.adapter.predict_fixed(z, fixed))
        if answer.dtype.kind in "OUS":  # labels by name
            return label_rows(answer.ravel(), self.output_classes).argmax(axis=1)
        return np.asarray(answer, np.float64)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self._module is not None:
            import torch

            with torch.no_grad():
                logits = self._module(torch.as_tensor(np.asarray(x, np.float32)))
                return torch.softmax(logits, dim=1).numpy()
        scores = self._raw_predict(x if self.data_type == "text" else np.asarray(x, np.float32))
        if self.outputs == "labels":
            return self._label_rows(scores)
        if self._one_column is not None:  # one score per row: the second class's probability, or its logit
            col = np.asarray(scores, np.float64).reshape(len(scores))
            p = col if self._one_column == "probabilities" else 1.0 / (1.0 + np.exp(-col))
            return np.stack([1.0 - p, p], axis=1).astype(np.float32)
        self._check_scores(scores)
        return (_softmax(scores) if self._softmax_scores else scores).astype(np.float32)

    def as_sent(self, x: np.ndarray) -> np.ndarray:
        if self.data_type == "text":
            return x
        sent = getattr(self.adapter, "as_sent", None)
        if sent is None or getattr(self.adapter, "encoding", "none") == "none":
            return np.asarray(x, np.float32)
        x = np.asarray(x, np.float32)
        z = self._pre.numpy(x)  # an encoding goes with no value-changing preprocess: the layout only
        if self._reshape is not None:
            z = z.reshape(len(z), *self._reshape)
        out = np.asarray(sent(z), np.float32)
        if self._pre.channels_last and out.ndim == 4:
            out = out.transpose(0, 3, 1, 2)
        return out.reshape(x.shape)

    def _label_rows(self, answer: np.ndarray) -> np.ndarray:
        """A labels-only model's answer as one-hot rows: a label per row (an index, or a
        name where the adapter gives names), or a row of scores read by its top class."""
        k = len(self.output_classes)
        if answer.ndim == 2 and answer.shape[1] == k and k > 1:
            answer = answer.argmax(axis=1)
        elif answer.ndim == 2 and answer.shape[1] == 1:
            answer = answer[:, 0]
        if answer.ndim != 1:
            raise self._check.error(
                "outputs", f"labels expects one label per row; the model answered shape {list(answer.shape)}"
            )
        return label_rows(answer, self.output_classes).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.setdefault("source", str(self.source))
        out.update(self.adapter.describe())  # as it is now: an endpoint's counts grow
        return out


class _Bounded(Exception):
    """A declaration past one of the reader's limits (the message says which)."""


def _bounded_loader() -> type:
    """A safe YAML loader that stops, before building anything, at a document nested more
    than :data:`MAX_YAML_DEPTH` deep or whose aliases expand it past :data:`MAX_YAML_VALUES`
    values (a "billion laughs" file is a few hundred bytes whose aliases stand for billions)."""
    import yaml

    class Loader(yaml.SafeLoader):
        def __init__(self, stream: Any) -> None:
            super().__init__(stream)
            self._depth = 0
            self._sizes: dict[int, int] = {}  # a node's values, its aliased parts expanded

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                return super().compose_node(parent, index)  # the anchored node, its size known
            self._depth += 1
            try:
                if self._depth > MAX_YAML_DEPTH:
                    raise _Bounded(
                        f"nests lists and mappings more than {MAX_YAML_DEPTH} deep; accepted: at most {MAX_YAML_DEPTH}"
                    )
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
            size = 1
            if isinstance(node, yaml.SequenceNode):
                size += sum(self._sizes.get(id(v), 1) for v in node.value)
            elif isinstance(node, yaml.MappingNode):
                size += sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
            if size > MAX_YAML_VALUES:
                raise _Bounded(
                    f"its aliases (*name) expand it to more than {MAX_YAML_VALUES:,} values; "
                    f"accepted: at most {MAX_YAML_VALUES:,}"
                )
            self._sizes[id(node)] = size
            return node

    return Loader


def load_yaml_target(path: str | Path, trust: bool = False) -> DeclaredTarget:
    """The target a YAML file declares (validated now; model and samples load on ``load``)."""
    import yaml

    given = str(path)
    source = Path(path).expanduser().resolve()
    if not source.is_file():
        raise FeintError(f"target file not found: {given}")
    check = Checker(given)
    size = source.stat().st_size
    if size > MAX_YAML_BYTES:
        raise check.error("", f"is {size:,} bytes; accepted: a declaration of at most {MAX_YAML_BYTES:,} bytes")
    try:
        doc = yaml.load(source.read_text(encoding="utf-8"), Loader=_bounded_loader())
    except _Bounded as exc:
        raise check.error("", str(exc)) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise check.error("", f"not valid YAML{at}: {problem}") from None
    except UnicodeDecodeError:
        raise check.error("", "not a text file") from None
    config = _parse(doc, check, source.parent, trust)
    return DeclaredTarget(config, source, given, source.parent)
