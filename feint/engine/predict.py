"""Predictions: what a target says about some of its samples, before any attack.

For each sample: its index, its true label where the target knows it, the predicted
label and its confidence, and the most likely classes. For image targets the samples
are also written as PNGs, so that a user can see what the model was shown. Works for
every target, open- or closed-box, since it asks only the target's own ``predict``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from feint.attacks.params import MAX_INDEX, MAX_SAMPLES, format_indices, parse_indices
from feint.config import path_component
from feint.errors import FeintError
from feint.targets.base import Target, checked_scores

__all__ = [
    "Prediction",
    "predict_samples",
    "predict_arrays",
    "adversarial_samples",
    "parse_sample_indices",
    "default_image_dir",
    "prediction_document",
    "TOP_K",
    "BATCH",
]

TOP_K = 3
BATCH = 1000  # rows per call to the target's predict


@dataclass
class Prediction:
    """The target's answer for one sample."""

    index: int
    true_label: str | None
    label: str
    confidence: float | None  # None: the target answers labels only
    top: list[tuple[str, float]]  # the most likely classes, most likely first (none: labels only)
    image: str | None = None  # path of the sample's PNG (image targets, when saved)
    correct: bool | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top"] = [{"label": lab, "confidence": conf} for lab, conf in self.top]
        return d


def parse_sample_indices(spec: Any, target: Target | None = None) -> tuple[int, ...]:
    """Sample indices from ``3``, ``1,4,7``, ``0:100`` or a mix; checked against the
    target's samples when it is given. Raises FeintError on a bad spec."""
    try:
        indices = parse_indices(spec)
    except (ValueError, TypeError):
        raise FeintError(
            f"sample indices expect 3, 1,4,7, 0:100, range(0, 100) or a mix like 1,4,10:20, each below "
            f"{MAX_INDEX:,} and at most {MAX_SAMPLES:,} of them; got {spec!r}"
        ) from None
    if target is not None:
        target.check_indices(indices)
    return indices


def default_image_dir(root: Path, target: Target) -> Path:
    """A fresh folder under ``root`` (normally ``$FEINT_HOME/artifacts/predict``) for one call."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return Path(root) / f"{path_component(target.target_name)}-{stamp}-{uuid.uuid4().hex[:6]}"


def predict_samples(
    target: Target, indices: Sequence[int] | str | int, top_k: int = TOP_K, image_dir: Path | str | None = None
) -> list[Prediction]:
    """Ask ``target`` about its samples at ``indices``; for an image target with
    ``image_dir`` given, write each sample as ``INDEX.png`` there."""
    target = target.ensure_loaded()
    idx = parse_sample_indices(indices, target)
    if not idx:
        raise FeintError("no sample indices given; e.g. -i 0 or -i 0:10")
    return predict_arrays(target, target.get_samples(list(idx)), idx, top_k, image_dir)


def predict_arrays(
    target: Target,
    x: np.ndarray,
    indices: Sequence[int],
    top_k: int = TOP_K,
    image_dir: Path | str | None = None,
) -> list[Prediction]:
    """Ask ``target`` about the samples ``x`` (in its layout), which stand for its samples
    at ``indices`` (their true labels; an attack's adversarial versions of them, say)."""
    target = target.ensure_loaded()
    idx = [int(i) for i in indices]
    if len(idx) != len(x):
        raise FeintError(f"{len(x)} samples given for {len(idx)} sample indices")
    classes = list(target.output_classes)
    probs = np.concatenate([_predict_held(target, x, indices, s, s + BATCH) for s in range(0, len(x), BATCH)])
    k = max(1, min(top_k, len(classes)))
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    folder = Path(image_dir) if image_dir is not None and target.data_type == "image" else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    out = []
    for row, i in enumerate(idx):
        best = int(order[row, 0])
        true = classes[int(target.y[i])] if target.y is not None else None
        image = None
        if folder is not None:
            image = str(_save_image(folder / f"{i}.png", x[row], target.bounds))
        out.append(
            Prediction(
                index=int(i),
                true_label=true,
                label=classes[best],
                confidence=None if target.labels_only else float(probs[row, best]),
                top=[] if target.labels_only else [(classes[int(c)], float(probs[row, c])) for c in order[row]],
                image=image,
                correct=None if true is None else true == classes[best],
            )
        )
    return out


def adversarial_samples(artifacts: str | None, run_id: str) -> tuple[list[int], np.ndarray]:
    """A stored run's sample indices and its adversarial samples, from the arrays it kept
    (one file, or one per unit of a scan's run)."""
    folder = Path(artifacts) if artifacts else None
    files = sorted(folder.glob("adversarial*.npz")) if folder is not None and folder.is_dir() else []
    if not files:
        raise FeintError(f"run {run_id} kept no adversarial samples (an extraction or inference run keeps none)")
    indices: list[int] = []
    chunks: list[np.ndarray] = []
    for file in files:
        with np.load(file) as data:
            indices.extend(int(i) for i in data["indices"])
            adv = data["x_adv"]
            if adv.dtype.kind == "U":  # a text run's adversarial texts
                texts = np.empty(len(adv), dtype=object)
                texts[:] = [str(t) for t in adv]
                chunks.append(texts)
            else:
                chunks.append(np.asarray(adv, np.float32))
    order = np.argsort(np.asarray(indices), kind="stable")
    x = np.concatenate(chunks)
    return [indices[i] for i in order], x[order]


def _save_image(path: Path, x: np.ndarray, bounds: tuple[float, float]) -> Path:
    from PIL import Image

    from feint.attacks.evidence import to_uint8
    from feint.store.db import writing_artifacts

    with writing_artifacts(path.parent):  # a full disk is one line
        Image.fromarray(to_uint8(x, bounds)).save(path)
    return path


def prediction_document(target: Target, predictions: list[Prediction], image_dir: Path | str | None = None) -> dict:
    """The JSON document of ``feint predict --json``."""
    known = [p.correct for p in predictions if p.correct is not None]
    return {
        "schema": "feint/1",
        "kind": "predictions",
        "target": target.target_name,
        "sample_index": format_indices([p.index for p in predictions]),
        "accuracy": (sum(known) / len(known)) if known else None,
        "images": str(image_dir) if image_dir is not None and any(p.image for p in predictions) else None,
        "predictions": [p.to_dict() for p in predictions],
    }


def _predict_held(target: Target, x: np.ndarray, indices: Sequence[int], start: int, stop: int) -> np.ndarray:
    """The target's answer for rows ``start:stop`` of ``x``, which are the samples ``indices[start:stop]``."""
    batch = x[start:stop]
    with target.holding(np.asarray(indices)[start:stop]):
        return checked_scores(target, target.predict(batch), len(batch))
