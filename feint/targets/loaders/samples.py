"""The samples of a declared target: the readers of ``.npz``, ``.npy`` and CSV files and of
folders of images, and the checks that fit what they read to the declared shape, classes
and bounds."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from feint.targets.loaders.checks import Checker, Key, key_names

__all__ = [
    "SAMPLE_KEYS",
    "SAMPLE_KINDS",
    "IMAGE_SUFFIXES",
    "load_samples",
    "load_text_samples",
    "labels",
    "feature_columns",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")

# The keys of a ``samples`` mapping: exactly one kind of samples, and the names inside it.
_KINDS: tuple[Key, ...] = (
    Key("npz", "an `.npz` file: arrays `X` or `x`, and `y` or `Y` when present (name others with `x` and `y`)"),
    Key("npy", "an `.npy` file of samples, without labels"),
    Key(
        "csv",
        "a CSV file with a header row: every column but the label a feature, in order, named by the "
        "header (or the columns `columns` names); a column holding text is held fixed, not a feature",
    ),
    Key("jsonl", "text targets: a JSON Lines file, one object per line with the text and its label"),
    Key(
        "texts",
        "text targets: a folder with one sub-folder of `.txt` files per class (a file a sample, UTF-8)",
    ),
    Key(
        "images",
        "a folder with one sub-folder of images per class, read as grey, RGB or RGBA by the "
        "channel count, resized to the input shape, pixel values mapped onto `bounds`",
    ),
)
_NAMES: tuple[Key, ...] = (
    Key("x", "the array of samples in the `.npz` file"),
    Key("y", "the array of labels in the `.npz` file"),
    Key("label", "the CSV column (or JSON Lines key) of labels (class names or indices)"),
    Key("text", "text targets: the CSV column or JSON Lines key of the texts (default `text`)"),
)
SAMPLE_KEYS = _KINDS + _NAMES
SAMPLE_KINDS = key_names(_KINDS)
# The readers' limits: the bytes of an array file (and of an array inside an .npz, as
# stored uncompressed), of a CSV file (read into lists of numbers), of a folder's images
# once read as float32 samples.
MAX_SAMPLE_BYTES = 1 << 31
MAX_CSV_BYTES = 1 << 28


def _claimed_bytes(fh: Any) -> tuple[int, int] | None:
    """``(bytes the array claims, bytes of its header)`` from the header of ``.npy`` data
    at the start of ``fh``, read before the array (numpy makes room for what the header
    claims), or None where the header is not one numpy reads (its own error says so)."""
    import math

    from numpy.lib import format as npy

    try:
        major, _ = npy.read_magic(fh)
        read = npy.read_array_header_1_0 if major == 1 else npy.read_array_header_2_0
        shape, _, dtype = read(fh)
        return math.prod(shape) * dtype.itemsize, fh.tell()
    except Exception:  # noqa: BLE001 - not an array numpy reads: np.load says why
        return None


def _check_claim(claimed: tuple[int, int] | None, stored: int, name: str, check: Checker, key: str) -> None:
    """Refuse an array whose header claims more than the limit, or more than is stored."""
    if claimed is None:
        return
    size, header = claimed
    if size > MAX_SAMPLE_BYTES:
        raise check.error(
            key, f"{name} claims {size:,} bytes of samples; accepted: at most {MAX_SAMPLE_BYTES:,} bytes of samples"
        )
    if size > stored - header:
        raise check.error(key, f"{name} claims {size:,} bytes of samples but holds {max(stored - header, 0):,}")


def _size_limit(path: Path, limit: int, check: Checker, key: str, what: str = "") -> None:
    size = path.stat().st_size
    if size > limit:
        raise check.error(key, f"{path.name}{what} is {size:,} bytes; accepted: at most {limit:,} bytes of samples")


def labels(values: np.ndarray, classes: Sequence[str], check: Checker, key: str) -> np.ndarray:
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
    x: np.ndarray, input_shape: tuple[int, ...], channels_last: bool, check: Checker, key: str
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


def _read_npz(path: Path, spec: Mapping, check: Checker, key: str) -> tuple[np.ndarray, np.ndarray | None, str]:
    _size_limit(path, MAX_SAMPLE_BYTES, check, key)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise check.error(key, f"cannot read {path.name} as .npz ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise check.error(key, f"{path.name} is not an .npz archive; accepted: a file np.savez writes")
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
        archive = data.zip
        for name in (xkey, ykey):
            if not name or archive is None:
                continue
            member = f"{name}.npy" if f"{name}.npy" in archive.namelist() else name
            if member in archive.namelist():
                size = archive.getinfo(member).file_size  # as stored, before it is decompressed
                if size > MAX_SAMPLE_BYTES:
                    raise check.error(
                        key,
                        f"{path.name}: array {name!r} is {size:,} bytes uncompressed; accepted: at most "
                        f"{MAX_SAMPLE_BYTES:,} bytes of samples",
                    )
                with archive.open(member) as fh:
                    _check_claim(_claimed_bytes(fh), size, f"{path.name}: array {name!r}", check, key)
        try:
            x = data[xkey]
            y = data[ykey] if ykey else None
        except ValueError:
            raise check.error(
                key, f"{path.name} holds pickled objects, which feint does not load; save plain numeric arrays"
            ) from None
    return x, y, f"{path} [{xkey}{', ' + ykey if ykey else ''}]"


Fixed = tuple[tuple[str, ...], np.ndarray]  # text columns held fixed: their names, (samples, columns) values


def _read_csv(
    path: Path, label: str | None, columns: Sequence[str] | None, check: Checker, key: str
) -> tuple[np.ndarray, np.ndarray | None, tuple[str, ...], Fixed | None]:
    _size_limit(path, MAX_CSV_BYTES, check, key)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise check.error(key, f"{path.name} is not UTF-8 text; accepted: a CSV file") from None
    except csv.Error as exc:
        raise check.error(key, f"{path.name} is not a CSV file ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise check.error(key, f"{path.name} needs a header row and at least one row of values")
    header = [h.strip() for h in rows[0]]
    if label is not None and label not in header:
        raise check.error("samples.label", f"{path.name} has no column {label!r}; columns: {', '.join(header)}")
    li = header.index(label) if label is not None else None
    if columns is None:
        picked = [i for i in range(len(header)) if i != li]
    else:
        missing = [c for c in columns if c not in header or c == label]
        if missing:
            others = ", ".join(h for h in header if h != label)
            raise check.error("columns", f"{path.name} has no feature column {missing[0]!r}; its columns: {others}")
        picked = [header.index(c) for c in columns]
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise check.error(key, f"{path.name} line {n} has {len(row)} values; the header has {len(header)}")
    # A column with a value that is not a number is text (a category): the model takes it,
    # no attack changes it. The features are the numeric columns.
    text = [i for i in picked if not all(_is_float(row[i]) for row in rows[1:])]
    numeric = [i for i in picked if i not in text]
    if not numeric:
        raise check.error(key, f"{path.name} has no numeric feature column to attack (its columns hold text)")
    feats = [[float(row[i]) for i in numeric] for row in rows[1:]]
    labels = [row[li].strip() for row in rows[1:]] if li is not None else None
    names = tuple(header[i] for i in numeric)
    fixed = None
    if text:
        values = np.asarray([[row[i].strip() for i in text] for row in rows[1:]], dtype=object)
        fixed = (tuple(header[i] for i in text), values)
    return np.asarray(feats, np.float32), (np.asarray(labels) if labels is not None else None), names, fixed


def feature_columns(value: Any, base: Path) -> list[str] | None:
    """The feature names of CSV samples (their header, the label column left out), or
    None for other samples or a file that cannot be read (its own check says why later)."""
    spec: Any = {"csv": value} if isinstance(value, str) and value.lower().endswith(".csv") else value
    if not isinstance(spec, Mapping) or not isinstance(spec.get("csv"), str):
        return None
    path = base / spec["csv"]
    try:
        if not path.is_file():
            return None
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader([f.readline(1 << 20)]), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not header:
        return None
    label = spec.get("label")
    return [h.strip() for h in header if h.strip() != label]


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _read_images(
    folder: Path,
    input_shape: tuple[int, ...],
    classes: Sequence[str],
    bounds: tuple[float, float],
    check: Checker,
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
    files = [
        (sub, f) for sub in subs for f in sorted(sub.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
    ]
    size = len(files) * c * h * w * 4
    if size > MAX_SAMPLE_BYTES:
        raise check.error(
            key,
            f"{folder}'s {len(files):,} images make {size:,} bytes of samples at input_shape "
            f"{list(input_shape)}; accepted: at most {MAX_SAMPLE_BYTES:,}",
        )
    for sub, f in files:
        try:
            with Image.open(f) as im:
                im = im.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
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
    check: Checker,
    input_shape: tuple[int, ...],
    classes: Sequence[str],
    bounds: tuple[float, float],
    channels_last: bool,
    columns: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, str, tuple[str, ...] | None, Fixed | None]:
    """``(X, y or None, where they came from, the feature names or None, the text columns
    held fixed or None)`` for the ``samples`` value of a declaration. ``columns`` names the
    columns (a CSV's are picked by them); a CSV otherwise names them by its header. A CSV
    column that holds text is not a feature: its values come back apart, as ``(names,
    values)`` with one row of text per sample, for the model to take unchanged."""
    if isinstance(value, str):
        path = check.file("samples", base, value, folder=False)
        kind = "images" if path.is_dir() else path.suffix.lower().lstrip(".")
        spec: Mapping = {kind: value}
    elif isinstance(value, Mapping):
        spec = value
        check.keys("samples", spec, key_names(SAMPLE_KEYS))
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
    names = tuple(columns) if columns is not None else None
    fixed: Fixed | None = None
    if kind == "npz":
        x, y, source = _read_npz(path, spec, check, key)
    elif kind == "npy":
        _size_limit(path, MAX_SAMPLE_BYTES, check, key)
        with open(path, "rb") as fh:
            _check_claim(_claimed_bytes(fh), path.stat().st_size, path.name, check, key)
        try:
            x = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise check.error(key, f"cannot read {path.name} as .npy ({type(exc).__name__}: {exc})") from None
        source = str(path)
    elif kind == "csv":
        x, y, names, fixed = _read_csv(path, spec.get("label"), columns, check, key)
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
    if fixed is not None and x.shape[1] != int(np.prod(input_shape)):
        raise check.error(
            key,
            f"{path.name} has {x.shape[1]} numeric feature columns for input_shape {list(input_shape)}; its text "
            f"columns ({', '.join(fixed[0])}) are held fixed and not counted in input_shape",
        )
    x = _fit_shape(x, input_shape, channels_last, check, key)
    if y is not None:
        if len(np.asarray(y).ravel()) != len(x):
            raise check.error(key, f"{len(np.asarray(y).ravel())} labels for {len(x)} samples")
        y = labels(y, classes, check, key if kind != "npz" else "samples.y")
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
    if names is not None and len(names) != int(np.prod(input_shape)):
        held = f" (text columns held fixed, not counted: {', '.join(fixed[0])})" if fixed else ""
        raise check.error(
            key,
            f"{len(names)} numeric feature columns for input_shape {list(input_shape)}{held}; "
            "name the features with columns",
        )
    return x, y, source, names, fixed


def load_text_samples(
    value: Any, base: Path, check: Checker, classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(texts, labels or None, where they came from)`` for a text target's ``samples``: a
    CSV file (``{csv: FILE, text: COLUMN, label: COLUMN}``), a JSON Lines file (``{jsonl:
    FILE, text: KEY, label: KEY}``) or a folder with a sub-folder of ``.txt`` files per
    class (``{texts: FOLDER}``, or the folder's path); texts as an object array of str."""
    import json

    from feint.targets.text import text_array

    if isinstance(value, str):
        path = check.file("samples", base, value, folder=False)
        kind = "texts" if path.is_dir() else path.suffix.lower().lstrip(".")
        spec: Mapping = {kind: value}
    elif isinstance(value, Mapping):
        spec = value
        check.keys("samples", spec, ("csv", "jsonl", "texts", "text", "label"))
        kinds = [k for k in ("csv", "jsonl", "texts") if k in spec]
        if len(kinds) != 1:
            raise check.error("samples", f"expects exactly one of csv, jsonl, texts; got {', '.join(kinds) or 'none'}")
        kind = kinds[0]
        for k in ("text", "label"):
            if k in spec and not isinstance(spec[k], str):
                raise check.expect(f"samples.{k}", "a name (text)", spec[k])
        path = check.file(f"samples.{kind}", base, spec[kind], folder=kind == "texts")
    else:
        raise check.expect(
            "samples", "a .csv or .jsonl file, a folder of .txt files per class, or {csv: FILE, text: COLUMN}", value
        )
    key = "samples" if isinstance(value, str) else f"samples.{kind}"
    text_key, label_key = spec.get("text", "text"), spec.get("label", "label")
    texts: list[str] = []
    found: list[Any] = []
    if kind == "csv":
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise check.error(key, f"cannot read {path.name} as CSV ({type(exc).__name__}: {exc})") from None
        header = list(rows[0]) if rows else []
        if text_key not in header:
            raise check.error(
                key, f"{path.name} has no column {text_key!r}; its columns: {', '.join(header) or 'none'}"
            )
        texts = [r[text_key] or "" for r in rows]
        found = [r[label_key] for r in rows] if label_key in header else []
    elif kind == "jsonl":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise check.error(key, f"cannot read {path.name} ({type(exc).__name__}: {exc})") from None
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise check.error(key, f"{path.name} line {n} is not JSON ({exc})") from None
            if not isinstance(item, Mapping) or not isinstance(item.get(text_key), str):
                raise check.error(key, f"{path.name} line {n}: expected an object with the text under {text_key!r}")
            texts.append(item[text_key])
            if label_key in item:
                found.append(item[label_key])
        if found and len(found) != len(texts):
            raise check.error(key, f"{path.name}: {len(texts) - len(found)} lines have no {label_key!r}")
    elif kind == "texts":
        for c, name in enumerate(classes):
            folder = path / str(name)
            for file in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
                try:
                    texts.append(file.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError) as exc:
                    raise check.error(key, f"cannot read {file} ({type(exc).__name__}: {exc})") from None
                found.append(c)
        if not texts:
            raise check.error(
                key, f"{path} has no .txt files in sub-folders named by the classes ({', '.join(classes)})"
            )
    else:
        raise check.error(
            "samples", f"cannot tell what {path.name} holds; accepted for text: .csv or .jsonl files, or a folder"
        )
    if not texts:
        raise check.error(key, f"{path.name} holds no samples")
    y = labels(np.asarray([str(v) for v in found], dtype=object), classes, check, key) if found else None
    return text_array(texts), y, str(path)
