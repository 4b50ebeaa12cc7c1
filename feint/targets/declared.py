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
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from feint.errors import FeintError
from feint.targets.base import LoadedTarget

__all__ = ["DeclaredTarget", "load_yaml_target", "ACCEPTED_KEYS", "REQUIRED_KEYS"]

REQUIRED_KEYS = ("name", "model", "data_type", "input_shape", "classes", "samples")
ACCEPTED_KEYS = REQUIRED_KEYS + ("description", "bounds", "channels", "preprocess", "outputs", "trust")
DECLARED_TYPES = ("image", "tabular")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SAMPLE_KINDS = ("npz", "npy", "csv", "images")
# rows judged once at load to tell probabilities from logits
_PROBE_ROWS = 32


# -- validation helpers ---------------------------------------------------------------
def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Checker:
    """Builds one-line errors prefixed with the YAML file and the key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def error(self, key: str, message: str) -> FeintError:
        return FeintError(f"{self.where}: {key}: {message}" if key else f"{self.where}: {message}")

    def expect(self, key: str, expected: str, got: Any) -> FeintError:
        return self.error(key, f"expects {expected}; got {_shown(got)}")

    def keys(self, key: str, mapping: Mapping, accepted: tuple[str, ...]) -> None:
        for k in mapping:
            if k not in accepted:
                raise self.error(key, f"unknown key {k!r}; accepted keys: {', '.join(accepted)}")

    def file(self, key: str, base: Path, value: Any, folder: bool = False) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.expect(key, "a path (relative to the YAML file's folder)", value)
        path = (base / Path(value).expanduser()).resolve()
        if folder and not path.is_dir():
            raise self.error(key, f"folder not found: {path}")
        if not folder and not path.exists():
            raise self.error(key, f"file not found: {path}")
        return path


# -- preprocessing --------------------------------------------------------------------
class Preprocess:
    """``(x * scale - mean) / std`` in feint's channels-first layout, then the model's layout."""

    def __init__(self, scale: float, mean: np.ndarray | None, std: np.ndarray | None, channels_last: bool) -> None:
        self.scale, self.mean, self.std, self.channels_last = scale, mean, std, channels_last

    def model_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*input_shape[1:], input_shape[0]) if self.channels_last else tuple(input_shape)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        z = np.asarray(x, np.float32)
        if self.scale != 1.0:
            z = z * np.float32(self.scale)
        if self.mean is not None:
            z = z - self.mean
        if self.std is not None:
            z = z / self.std
        if self.channels_last:
            z = np.moveaxis(z, 1, -1)
        return np.ascontiguousarray(z, np.float32)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.scale != 1.0:
            out["scale"] = self.scale
        if self.mean is not None:
            out["mean"] = self.mean.ravel().tolist()
        if self.std is not None:
            out["std"] = self.std.ravel().tolist()
        return out


def _wrap_module(net: Any, pre: Preprocess, reshape_to: tuple[int, ...] | None, log_outputs: bool):
    import torch

    class Declared(torch.nn.Module):
        """feint's batch (channels first, raw values) -> the model's input -> logits."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.scale = float(pre.scale)
            self.register_buffer("mean", None if pre.mean is None else torch.as_tensor(pre.mean))
            self.register_buffer("std", None if pre.std is None else torch.as_tensor(pre.std))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = x
            if self.scale != 1.0:
                z = z * self.scale
            if self.mean is not None:
                z = z - self.mean
            if self.std is not None:
                z = z / self.std
            if pre.channels_last:
                z = z.movedim(1, -1)
            if reshape_to is not None:
                z = z.reshape(len(z), *reshape_to)
            out = self.net(z)
            if log_outputs:  # probabilities: their logs are logits whose softmax gives them back
                out = torch.log(out.clamp_min(1e-12))
            return out

    module = Declared()
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


def _looks_like_probabilities(scores: np.ndarray) -> bool:
    s = np.asarray(scores, np.float64)
    return bool(s.size) and s.min() >= -1e-6 and s.max() <= 1 + 1e-6 and np.allclose(s.sum(1), 1.0, atol=1e-3)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# -- endpoints --------------------------------------------------------------------------
class _Endpoint:
    """An HTTP endpoint as a closed-box adapter (the endpoint returns probabilities)."""

    kind = "http"
    open_box = False
    outputs = "probabilities"  # the endpoint's own `outputs` option turns logits into probabilities

    def __init__(self, model: Any, config: Mapping, where: str) -> None:
        self.http, self.config, self.where = model, config, where

    def load(self) -> None:
        loader = getattr(self.http, "load", None)
        if callable(loader):
            loader()

    def expected_input_shape(self) -> None:
        return None

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.http.predict(x), np.float64)

    def describe(self) -> dict[str, Any]:
        """The endpoint (as written, so no secret from the environment) and its limits."""
        shown = dict(self.http.describe()) if hasattr(self.http, "describe") else {}
        url = shown.pop("url", str(self.config.get("url", "")))
        shown.pop("adapter", None)
        return {"model": url, "adapter": "http", **({"endpoint": shown} if shown else {})}


def _endpoint(config: Any, where: str, n_classes: int) -> _Endpoint:
    if not isinstance(config, Mapping):
        raise FeintError(f"{where}: expects a mapping with url and the endpoint's settings; got {_shown(config)}")
    try:
        from feint.targets.adapters.http import HttpModel
    except ImportError as exc:
        raise FeintError(f"{where}: HTTP endpoints cannot be used here ({exc})") from None
    return _Endpoint(HttpModel.from_config(dict(config), where, n_classes=n_classes), config, where)


# -- samples ------------------------------------------------------------------------------
def _labels(values: np.ndarray, classes: tuple[str, ...], check: _Checker, key: str) -> np.ndarray:
    v = np.asarray(values).ravel()
    if v.dtype.kind in "USO":
        names = [str(x) for x in v.tolist()]
        unknown = sorted({n for n in names if n not in classes})
        if unknown and all(n.strip().lstrip("-").isdigit() for n in names):
            v = np.asarray([int(n) for n in names])
        elif unknown:
            raise check.error(
                key,
                f"label {unknown[0]!r} is not a class; accepted: {', '.join(classes)} "
                f"or class indices 0 to {len(classes) - 1}",
            )
        else:
            return np.asarray([classes.index(n) for n in names], np.int64)
    if v.dtype.kind == "f" and not (np.all(np.isfinite(v)) and np.all(v == np.round(v))):
        raise check.error(key, "labels must be class indices or class names; found fractional values")
    if v.dtype.kind == "b" or v.dtype.kind not in "iuf":
        raise check.error(key, f"labels must be class indices or class names; found {v.dtype} values")
    out = v.astype(np.int64)
    if out.size and (out.min() < 0 or out.max() >= len(classes)):
        bad = int(out[(out < 0) | (out >= len(classes))][0])
        raise check.error(key, f"label {bad} is outside the classes; accepted: 0 to {len(classes) - 1}")
    return out


def _fit_shape(
    x: np.ndarray, input_shape: tuple[int, ...], channels_last: bool, check: _Checker, key: str
) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 0 or len(x) == 0:
        raise check.error(key, "holds no samples")
    if x.dtype.kind not in "iufb":
        raise check.error(key, f"samples must be numbers; found {x.dtype} values")
    shape = tuple(x.shape[1:])
    if shape == tuple(input_shape):
        out = x
    elif len(input_shape) == 3 and shape == (*input_shape[1:], input_shape[0]):
        out = np.moveaxis(x, -1, 1)  # channels-last images: feint keeps channels first
    elif int(np.prod(shape)) == int(np.prod(input_shape)):
        out = x.reshape(len(x), *input_shape)  # flat rows are read in feint's layout, channels first
    else:
        raise check.error(key, f"samples of shape {list(shape)} do not fit input_shape {list(input_shape)}")
    return np.ascontiguousarray(out, np.float32)


def _read_npz(path: Path, spec: Mapping, check: _Checker, key: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise check.error(key, f"cannot read {path.name} as .npz ({type(exc).__name__}: {exc})") from None
    with data:
        names = list(data.files)
        xkey = spec.get("x")
        if xkey is None:
            xkey = next((k for k in ("X", "x") if k in names), None)
            if xkey is None:
                raise check.error(
                    key,
                    f"{path.name} has no array X or x; name it with samples.x (arrays in the file: {', '.join(names)})",
                )
        elif xkey not in names:
            raise check.error("samples.x", f"{path.name} has no array {xkey!r}; arrays in the file: {', '.join(names)}")
        ykey = spec.get("y")
        if ykey is None:
            ykey = next((k for k in ("y", "Y") if k in names), None)
        elif ykey not in names:
            raise check.error("samples.y", f"{path.name} has no array {ykey!r}; arrays in the file: {', '.join(names)}")
        try:
            x = data[xkey]
            y = data[ykey] if ykey else None
        except ValueError:
            raise check.error(
                key, f"{path.name} holds pickled objects, which feint does not load; save plain numeric arrays"
            ) from None
    return x, y, f"{path} [{xkey}{', ' + ykey if ykey else ''}]"


def _read_csv(path: Path, label: str | None, check: _Checker, key: str) -> tuple[np.ndarray, np.ndarray | None]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise check.error(key, f"{path.name} needs a header row and at least one row of values")
    header = [h.strip() for h in rows[0]]
    if label is not None and label not in header:
        raise check.error("samples.label", f"{path.name} has no column {label!r}; columns: {', '.join(header)}")
    li = header.index(label) if label is not None else None
    feats, labels = [], []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise check.error(key, f"{path.name} line {n} has {len(row)} values; the header has {len(header)}")
        try:
            feats.append([float(c) for i, c in enumerate(row) if i != li])
        except ValueError:
            bad = next(c for i, c in enumerate(row) if i != li and not _is_float(c))
            raise check.error(
                key, f"{path.name} line {n}: {bad!r} is not a number (every column but the label must be numeric)"
            ) from None
        if li is not None:
            labels.append(row[li].strip())
    return np.asarray(feats, np.float32), (np.asarray(labels) if li is not None else None)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_images(
    folder: Path,
    input_shape: tuple[int, ...],
    classes: tuple[str, ...],
    bounds: tuple[float, float],
    check: _Checker,
    key: str,
) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    if len(input_shape) != 3 or input_shape[0] not in (1, 3, 4):
        raise check.error(
            key,
            "a folder of images needs input_shape [channels, height, width] "
            f"with 1, 3 or 4 channels; input_shape is {list(input_shape)}",
        )
    c, h, w = input_shape
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs:
        raise check.error(
            key,
            f"{folder} has no sub-folders; put each class's images in a sub-folder "
            f"named after it ({', '.join(classes)})",
        )
    xs, ys = [], []
    lo, hi = bounds
    for sub in subs:
        if sub.name not in classes:
            raise check.error(key, f"sub-folder {sub.name!r} is not a class; accepted: {', '.join(classes)}")
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(f) as im:
                    im = im.convert(mode).resize((w, h), Image.BILINEAR)
                    arr = np.asarray(im, np.float32).reshape(h, w, c)
            except Exception as exc:
                raise check.error(key, f"cannot read image {f} ({type(exc).__name__})") from None
            xs.append(lo + arr.transpose(2, 0, 1) / 255.0 * (hi - lo))
            ys.append(classes.index(sub.name))
    if not xs:
        raise check.error(key, f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return np.stack(xs).astype(np.float32), np.asarray(ys, np.int64)


def load_samples(
    value: Any,
    base: Path,
    check: _Checker,
    input_shape: tuple[int, ...],
    classes: tuple[str, ...],
    bounds: tuple[float, float],
    channels_last: bool,
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(X, y or None, where they came from)`` for the ``samples`` value of a declaration."""
    if isinstance(value, str):
        path = check.file("samples", base, value, folder=False)
        kind = "images" if path.is_dir() else path.suffix.lower().lstrip(".")
        spec: Mapping = {kind: value}
    elif isinstance(value, Mapping):
        spec = value
        check.keys("samples", spec, SAMPLE_KINDS + ("x", "y", "label"))
        kinds = [k for k in SAMPLE_KINDS if k in spec]
        if len(kinds) != 1:
            raise check.error(
                "samples", f"expects exactly one of {', '.join(SAMPLE_KINDS)}; got {', '.join(kinds) or 'none'}"
            )
        kind = kinds[0]
        for k in ("x", "y", "label"):
            if k in spec and not isinstance(spec[k], str):
                raise check.expect(f"samples.{k}", "a name (text)", spec[k])
        path = check.file(f"samples.{kind}", base, spec[kind], folder=kind == "images")
    else:
        raise check.expect(
            "samples",
            "a file (.npz, .npy, .csv), a folder of images, or a mapping such as {csv: data.csv, label: Class}",
            value,
        )
    key = "samples" if isinstance(value, str) else f"samples.{kind}"
    y = None
    if kind == "npz":
        x, y, source = _read_npz(path, spec, check, key)
    elif kind == "npy":
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise check.error(key, f"cannot read {path.name} as .npy ({type(exc).__name__}: {exc})") from None
        source = str(path)
    elif kind == "csv":
        x, y = _read_csv(path, spec.get("label"), check, key)
        source = str(path)
    elif kind == "images":
        x, y = _read_images(path, input_shape, classes, bounds, check, key)
        source = str(path)
    else:
        raise check.error(
            "samples",
            f"cannot tell what {path.name} holds; accepted: .npz, .npy, .csv files "
            "or a folder of images with one sub-folder per class",
        )
    x = _fit_shape(x, input_shape, channels_last, check, key)
    if y is not None:
        if len(np.asarray(y).ravel()) != len(x):
            raise check.error(key, f"{len(np.asarray(y).ravel())} labels for {len(x)} samples")
        y = _labels(y, classes, check, key if kind != "npz" else "samples.y")
    lo, hi = bounds
    xmin, xmax = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(xmin) and np.isfinite(xmax)):
        raise check.error(key, "samples hold NaN or infinite values")
    if xmin < lo - 1e-6 or xmax > hi + 1e-6:
        raise check.error(
            key,
            f"sample values span [{xmin:g}, {xmax:g}], outside bounds [{lo:g}, {hi:g}]; "
            "declare bounds that hold them (and preprocess.scale if the model expects "
            "another range)",
        )
    return x, y, source


# -- the declaration ------------------------------------------------------------------------
def _parse(doc: Any, check: _Checker, base: Path, trust: bool) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise check.error("", f"expects a mapping of keys ({', '.join(ACCEPTED_KEYS)}); got {_shown(doc)}")
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

    shape = doc["input_shape"]
    if (
        not isinstance(shape, list)
        or not shape
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape)
    ):
        raise check.expect("input_shape", "a list of positive integers", shape)
    if dtype == "image" and len(shape) != 3:
        raise check.expect("input_shape", "[channels, height, width] for an image target (channels first)", shape)
    out["input_shape"] = tuple(shape)

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
    if not (
        isinstance(bounds, list) and len(bounds) == 2 and all(_number(b) for b in bounds) and bounds[0] < bounds[1]
    ):
        raise check.expect("bounds", "[lo, hi], two numbers with lo < hi", bounds)
    out["bounds"] = (float(bounds[0]), float(bounds[1]))

    channels = doc.get("channels", "first")
    if channels not in ("first", "last"):
        raise check.expect("channels", "first or last (the model's channel order)", channels)
    if channels == "last" and dtype != "image":
        raise check.error("channels", "applies to image targets only")
    out["channels_last"] = channels == "last"

    outputs = doc.get("outputs", "auto")
    if outputs not in ("auto", "logits", "probabilities"):
        raise check.expect("outputs", "auto, logits or probabilities (what the model returns)", outputs)
    out["outputs"] = outputs

    trust_key = doc.get("trust", False)
    if not isinstance(trust_key, bool):
        raise check.expect("trust", "true or false", trust_key)
    out["trust"] = trust or trust_key

    out["preprocess"] = _preprocess(doc.get("preprocess"), check, out["input_shape"], dtype, out["channels_last"])

    model = doc["model"]
    if isinstance(model, str):
        path = check.file("model", base, model)
        out["model"] = ("file", path)
    elif isinstance(model, Mapping):
        check.keys("model", model, ("endpoint", "file"))
        if len(model) != 1:
            raise check.error("model", "expects one of endpoint or file")
        if "endpoint" in model:
            if "outputs" in doc:
                raise check.error("outputs", "an endpoint says what it returns itself: set model.endpoint.outputs")
            out["model"] = ("endpoint", model["endpoint"])
        else:
            out["model"] = ("file", check.file("model.file", base, model["file"]))
    else:
        raise check.expect(
            "model", "a model file (relative to the YAML file's folder) or {endpoint: {url: ...}}", model
        )
    out["samples"] = doc["samples"]
    return out


def _preprocess(value: Any, check: _Checker, shape: tuple[int, ...], dtype: str, channels_last: bool) -> Preprocess:
    if value is None:
        return Preprocess(1.0, None, None, channels_last)
    if not isinstance(value, Mapping):
        raise check.expect("preprocess", "a mapping of scale, mean, std", value)
    check.keys("preprocess", value, ("scale", "mean", "std"))
    scale = value.get("scale", 1.0)
    if not _number(scale) or scale == 0:
        raise check.expect("preprocess.scale", "a non-zero number", scale)
    # per channel for images (broadcast over height and width), per feature for tabular data
    width = shape[0] if dtype == "image" else int(np.prod(shape))
    view = (shape[0], 1, 1) if dtype == "image" else tuple(shape)

    def vector(key: str, positive: bool) -> np.ndarray | None:
        if key not in value:
            return None
        v = value[key]
        unit = "channel" if dtype == "image" else "feature"
        ok = _number(v) or (isinstance(v, list) and len(v) == width and all(_number(e) for e in v))
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
        self.bounds = tuple(config["bounds"])
        super().__init__()
        self.source = source
        self.spec = str(source)
        self.trusted = bool(config["trust"])
        self._config = dict(config)
        self._check = _Checker(where)
        self._base = base
        self._pre: Preprocess = config["preprocess"]
        self._module = None
        self._log_outputs = False
        self._softmax_scores = False
        self._reshape: tuple[int, ...] | None = None
        kind, value = config["model"]
        if kind == "endpoint":
            self.adapter: Any = _endpoint(value, f"{where}: model.endpoint", len(self.output_classes))
            self._open_box = False
        else:
            from feint.targets.adapters import adapter_for

            self.adapter = adapter_for(value, f"{where}: model", trust=self.trusted)
            self._open_box = bool(self.adapter.open_box)
        self.description = config["description"] or (
            f"{self.adapter.kind} model {value if kind == 'file' else value.get('url', '')} "
            f"declared in {source.name}; {'open-box' if self._open_box else 'closed-box'}"
        )

    def load(self) -> None:
        c = self._config
        self.X, self.y, samples_from = load_samples(
            c["samples"],
            self._base,
            self._check,
            self.input_shape,
            self.output_classes,
            self.bounds,
            self._pre.channels_last,
        )
        self.adapter.load()
        self._check_shape()
        probe = self.X[:_PROBE_ROWS]
        if self._open_box:
            import torch

            net = self.adapter.module()
            if getattr(self.adapter, "outputs", "auto") == "logits":
                log_outputs = False
            elif c["outputs"] == "auto":
                module = _wrap_module(net, self._pre, self._reshape, False)
                with torch.no_grad():
                    scores = self._call_model(lambda: module(torch.as_tensor(probe)).numpy())
                self._check_scores(scores)
                log_outputs = _looks_like_probabilities(scores)
            else:
                log_outputs = c["outputs"] == "probabilities"
            self._log_outputs = log_outputs
            self._module = _wrap_module(net, self._pre, self._reshape, log_outputs)
            with torch.no_grad():
                self._check_scores(self._call_model(lambda: self._module(torch.as_tensor(probe)).numpy()))
        elif getattr(self.adapter, "outputs", "auto") == "probabilities":
            self._softmax_scores = False
        else:
            if c["outputs"] == "auto":
                scores = self._call_model(lambda: self._raw_predict(probe))
                self._check_scores(scores)
                self._softmax_scores = not _looks_like_probabilities(scores)
            else:
                self._softmax_scores = c["outputs"] == "logits"
        self.info = {
            "source": str(self.source),
            **self.adapter.describe(),
            "samples_from": samples_from,
        }
        if self._pre.describe():
            self.info["preprocess"] = self._pre.describe()
        if self._pre.channels_last:
            self.info["channels"] = "last"
        if self.y is not None:
            pred = np.concatenate([self._predict(self.X[s : s + 256]).argmax(1) for s in range(0, len(self.X), 256)])
            self.info["sample_accuracy"] = float(np.mean(pred == self.y))

    def _call_model(self, fn: Any) -> np.ndarray:
        try:
            return np.asarray(fn(), np.float64)
        except FeintError:
            raise
        except Exception as exc:
            text = str(exc).strip().splitlines()
            raise self._check.error(
                "model",
                f"the model failed on the samples ({type(exc).__name__}: "
                f"{text[0] if text else ''}); check input_shape, channels "
                "and preprocess",
            ) from None

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
        if flat and all(e is not None for e in expected) and int(np.prod(expected)) == int(np.prod(ours)):
            self._reshape = tuple(int(e) for e in expected)
            return
        shown = [e if e is not None else "any" for e in expected]
        hint = ""
        if len(ours) == 3 and len(expected) == 3:
            other = (
                (*self.input_shape[1:], self.input_shape[0]) if not self._pre.channels_last else tuple(self.input_shape)
            )
            if all(e is None or e == o for e, o in zip(expected, other)):
                hint = f"; set channels: {'first' if self._pre.channels_last else 'last'}"
        raise self._check.error(
            "input_shape",
            f"the model expects inputs of shape {shown}; input_shape "
            f"{list(self.input_shape)} with channels: "
            f"{'last' if self._pre.channels_last else 'first'} gives "
            f"{list(ours)}{hint}",
        )

    def _raw_predict(self, x: np.ndarray) -> np.ndarray:
        z = self._pre.numpy(x)
        if self._reshape is not None:
            z = z.reshape(len(z), *self._reshape)
        return np.asarray(self.adapter.predict(z), np.float64)

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self._open_box:
            import torch

            with torch.no_grad():
                logits = self._module(torch.as_tensor(np.asarray(x, np.float32)))
                return torch.softmax(logits, dim=1).numpy()
        scores = self._raw_predict(np.asarray(x, np.float32))
        self._check_scores(scores)
        return (_softmax(scores) if self._softmax_scores else scores).astype(np.float32)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out.setdefault("source", str(self.source))
        for key, value in self.adapter.describe().items():
            out.setdefault(key, value)
        return out


def load_yaml_target(path: str | Path, trust: bool = False) -> DeclaredTarget:
    """The target a YAML file declares (validated now; model and samples load on ``load``)."""
    import yaml

    given = str(path)
    source = Path(path).expanduser().resolve()
    if not source.is_file():
        raise FeintError(f"target file not found: {given}")
    check = _Checker(given)
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise check.error("", f"not valid YAML{at}: {problem}") from None
    except UnicodeDecodeError:
        raise check.error("", "not a text file") from None
    config = _parse(doc, check, source.parent, trust)
    return DeclaredTarget(config, source, given, source.parent)
