"""A run: one attack, one parameter set, a set of samples of one target.

The runner prepares the samples, asks the target for their labels, calls the attack
on batches through a query-counting view of the target, judges success through the
target's own ``predict``, measures distances, writes the evidence and hands back the
per-sample results. Every model call, the first and last predictions included, is
counted.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from feint import textdiff
from feint.attacks.base import Attack, Batch
from feint.attacks.catalog import check_target
from feint.attacks.model import CountedModel
from feint.attacks.shape import RunShape
from feint.attacks.targeting import goals, resolve_labels
from feint.attacks.trajectory import RUNNER_ROWS, Tracker
from feint.errors import BadValue
from feint.measures import compute, of_run
from feint.records import RunResult, SampleResult
from feint.store import trajectories
from feint.store.db import writing_artifacts
from feint.targets import as_target
from feint.targets.base import Target, checked_scores

__all__ = ["execute_run", "prepare_run", "distances", "resolve_labels"]

Progress = Callable[[int], None]


def distances(x: np.ndarray, x_adv: np.ndarray, text: bool = False) -> dict[str, np.ndarray]:
    """Per-sample Linf, L2 and L0 (features changed by more than 1e-6) of a batch. For
    text (``text``), the word-level figures in their place: ``l0`` the words changed,
    ``linf`` their share of the original's words (0 to 1), ``l2`` the character edit
    distance (see :mod:`feint.textdiff`)."""
    if text:
        found = textdiff.distances(list(x), list(x_adv))
        return {
            "linf": np.asarray(found["words_changed_share"], np.float64),
            "l2": np.asarray(found["char_edits"], np.float64),
            "l0": np.asarray(found["words_changed"], np.int64),
        }
    d = (np.asarray(x_adv, np.float64) - np.asarray(x, np.float64)).reshape(len(x), -1)
    return {
        "linf": np.abs(d).max(axis=1) if d.size else np.zeros(len(x)),
        "l2": np.linalg.norm(d, axis=1),
        "l0": (np.abs(d) > 1e-6).sum(axis=1),
    }


def _trajectory(
    indices: np.ndarray, fwd: np.ndarray, events: list[tuple[np.ndarray, np.ndarray, np.ndarray]], norm: str
) -> dict[str, Any]:
    """A run's trajectory arrays (see :mod:`feint.store.trajectories`) from each batch's events."""
    parts = [np.concatenate([e[k] for e in events]) if events else np.zeros(0) for k in range(3)]
    return {
        "indices": indices,
        "queries": fwd.copy(),
        "event_sample": parts[0].astype(np.int64),
        "event_query": parts[1].astype(np.int64),
        "event_distance": parts[2].astype(np.float64),
        "norm": norm,
    }


def prepare_run(target: Target, attack: Attack, shape: RunShape | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Check everything that can be checked before work starts; raise FeintError if not.
    The samples of ``shape`` (default: the attack's own shape) and the option values."""
    target = as_target(target)
    shape = shape or attack.shape
    check_target(type(attack), target)  # naming what does run on it, when refused
    p = attack.options.as_dict()
    attack.check_options(p)
    indices = np.asarray(shape.samples, dtype=np.int64)
    target.check_indices(indices)
    if p.get("targeted") and p.get("target_labels"):
        resolve_labels(target.output_classes, p["target_labels"], len(indices))
    cap = int(p.get("max_queries") or 0)
    if attack.stops() and 0 < cap <= RUNNER_ROWS:
        raise BadValue(
            "max_queries",
            f"0 (no cap) or more than {RUNNER_ROWS} (the first and last predictions are {RUNNER_ROWS} of them)",
            cap,
        )
    return indices, p


def execute_run(
    target: Target,
    attack: Attack,
    artifacts_root: Path | None = None,
    scan_id: str | None = None,
    progress: Progress | None = None,
    query_log: list[dict] | None = None,
    offset: int = 0,
    run_id: str | None = None,
    unit: int | None = None,
    shape: RunShape | None = None,
) -> RunResult:
    """Run ``attack`` (with its current options) on ``target``, laid out by ``shape``
    (default: the attack's own shape); see the module doc.

    A scan runs a long run as chunks (units): ``offset`` is the position of this chunk's
    first sample within the whole run, so that every random draw depends only on the
    seed and the positions in the run, never on how the run was cut or where a chunk ran.
    ``run_id`` names the run the chunk belongs to and ``unit`` the chunk, whose adversarial
    arrays go to ``adversarial.unit<unit>.npz`` in the run's folder."""
    target = as_target(target)  # a Counterfit target object is wrapped
    shape = shape or attack.shape
    indices, p = prepare_run(target, attack, shape)
    declared = of_run(target.data_type, attack.measures, target.measures)  # feint.measures
    run_id = run_id or uuid.uuid4().hex[:8]
    n = len(indices)
    x = target.get_samples(indices)
    text = target.data_type == "text"  # samples are strings (an object array)
    fwd = np.zeros(n, np.int64)
    grad = np.zeros(n, np.int64)
    log = query_log if shape.logger == "calls" else None
    classes = list(target.output_classes)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.perf_counter()

    def judge(batch: np.ndarray, rows: slice) -> np.ndarray:
        fwd[rows] += 1
        if log is not None:
            log.append({"kind": "forward", "rows": len(batch), "samples": indices[rows].tolist()})
        with target.holding(indices[rows]):
            return checked_scores(target, target.predict(batch), len(batch), inputs=batch)

    bs = shape.batch_size
    probs0 = np.concatenate([judge(x[s : s + bs], slice(s, s + bs)) for s in range(0, n, bs)])
    labels0 = probs0.argmax(1)
    goal = goals(classes, labels0, bool(p.get("targeted")), p.get("target_labels") or (), shape.seed, offset)

    x_adv = np.empty(n, dtype=object) if text else np.empty_like(x)
    notes: list[str | None] = [None] * n
    extras: dict[str, np.ndarray] = {}
    final: dict[int, np.ndarray] = {}  # batch start -> the attack's own final probabilities
    metrics: dict[str, Any] = {}
    unattributed = {"forward": 0, "gradient": 0}
    step = n if attack.whole_run else bs  # an extraction steals one model per run
    if target.fixed_columns:  # every row the attack asks about is then of one sample, with its own text
        step = 1
    # A closed-box evasion attack's trajectory and stopping rules (feint.attacks.trajectory).
    tracking = attack.stops()
    norm = attack.distance_norm(p) if tracking else "2"
    cap = int(p.get("max_queries") or 0) if tracking else 0
    target_distance = float(p.get("target_distance") or 0.0) if tracking else 0.0
    events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    found_adv = np.zeros(n, bool)  # per sample: an adversarial among its queries, and the closest
    best_adv = np.empty_like(x) if tracking else x
    for s in range(0, n, step):
        rows = slice(s, min(s + step, n))
        gen = torch.Generator().manual_seed(shape.seed * 1_000_003 + offset + s)
        batch = Batch(
            x=torch.zeros(0) if text else torch.as_tensor(x[rows]),
            labels=torch.as_tensor(labels0[rows]),
            targets=None if goal is None else torch.as_tensor(goal[rows]),
            generator=gen,
            seed=shape.seed,
            indices=indices[rows],
            texts=[str(t) for t in x[rows]] if text else None,
        )
        tracker = None
        if tracking:
            tracker = Tracker(
                batch.x,
                batch.reached,
                norm=norm,
                max_rows=cap - RUNNER_ROWS if cap else None,
                target_distance=target_distance or None,
                scores0=torch.log(torch.as_tensor(probs0[rows], dtype=torch.float32).clamp_min(1e-30)),
                bounds=(float(target.bounds[0]), float(target.bounds[1])),
            )
        model = CountedModel(target, fwd[rows], grad[rows], indices[rows], log, tracker=tracker)
        with target.holding(indices[rows]):
            out = attack(model, batch)
        if text:
            x_adv[rows] = out.texts if out.texts is not None else x[rows]
        else:
            x_adv[rows] = out.x_adv.detach().cpu().numpy()
        if out.notes is not None:
            notes[rows] = out.notes
        if tracker is not None:
            ev_sample, ev_query, ev_distance = tracker.events()
            events.append((ev_sample + s, ev_query, ev_distance))
            # A sample ends at the closest adversarial input its queries found, where the
            # attack's own output is farther, unchanged, or a rule stopped the sample.
            best = tracker.best_x.reshape(batch.x.shape).to(batch.x.dtype).clamp(model.lower, model.upper)
            own = out.x_adv.detach().reshape(len(best), -1).double() - tracker.flat0
            own_dist = own.abs().amax(dim=1) if norm == "inf" else own.norm(dim=1)
            unchanged = (own == 0).all(dim=1)
            better = (tracker.best < own_dist) | unchanged | tracker.stopped
            take = (tracker.found & better).numpy()
            x_adv[rows][take] = best.numpy()[take]
            for row in np.nonzero(take & unchanged.numpy())[0].tolist():
                notes[s + row] = None  # what the attack said of the input it returned no longer holds
            found_adv[rows] = tracker.found.numpy()
            best_adv[rows] = best.numpy()
        for key, values in out.extras.items():
            extras.setdefault(key, np.zeros(n, np.float64))[rows] = values
        if out.final_probs is not None:
            final[s] = np.asarray(out.final_probs, dtype=np.float64)
        for kind in unattributed:
            unattributed[kind] += model.unattributed[kind]
        if progress:
            progress(rows.stop - rows.start)
    # What the model is sent: an endpoint sent encoded images sees them decoded (8 bits,
    # JPEG), so the adversarial kept, measured and judged is the image it saw.
    if not text:
        x_adv = target.as_sent(x_adv)
    # Final predictions: the target's judgement of the outputs, unless the attack gave its
    # own (an extraction attack's stolen model), which costs the target nothing.
    probs1 = np.concatenate(
        [final[s] if s in final else judge(x_adv[s : s + step], slice(s, s + step)) for s in range(0, n, step)]
    )
    elapsed = time.perf_counter() - t0

    labels1 = probs1.argmax(1)
    success = np.asarray(attack.succeeded(labels0, labels1, goal, extras), dtype=bool)
    if tracking:
        # An attack's output that is not adversarial, where one of its queries was: the
        # closest adversarial queried is judged instead (a row the cap had left).
        retry = np.nonzero(~success & found_adv & (x_adv.reshape(n, -1) != best_adv.reshape(n, -1)).any(axis=1))[0]
        retry = retry[(fwd[retry] < cap) | (cap == 0)]
        if len(retry):
            x_adv[retry] = target.as_sent(best_adv[retry])
            for row in retry.tolist():
                probs1[row] = judge(x_adv[row : row + 1], slice(row, row + 1))[0]
            labels1 = probs1.argmax(1)
            success = np.asarray(attack.succeeded(labels0, labels1, goal, extras), dtype=bool)
    dist = distances(x, x_adv, text)
    if target_distance:  # success: adversarial within the distance
        measured = dist["linf" if norm == "inf" else "l2"]
        far = success & (measured > target_distance)
        for row in np.nonzero(far)[0].tolist():
            notes[row] = (
                f"adversarial at {'Linf' if norm == 'inf' else 'L2'} {measured[row]:.4g}, "
                f"beyond target_distance {target_distance:g}"
            )
        success &= ~far
    metrics.update(attack.run_metrics(success, extras))
    for kind, count in unattributed.items():
        if count:
            metrics[f"unattributed_{kind}_queries"] = count
    similarity = getattr(target, "text_similarity", None)
    if text and callable(similarity) and any(m.name == "similarity" for m in declared):
        # the target's own view of how alike the texts are (its weights, not its predictions)
        extras["similarity"] = np.asarray(similarity(list(x), list(x_adv)), np.float64)
    measures = compute(declared, x, x_adv, extras)
    folder = artifacts_root / run_id if artifacts_root is not None else None
    if folder is not None:
        with writing_artifacts(folder):
            folder.mkdir(parents=True, exist_ok=True)
            name = "adversarial.npz" if unit is None else f"adversarial.unit{unit}.npz"
            tmp = folder / f".{os.getpid()}.{name}"  # written whole, then moved into place
            try:
                if text:  # as arrays of str, which load without unpickling
                    np.savez_compressed(tmp, indices=indices, x=x.astype(str), x_adv=x_adv.astype(str))
                else:
                    np.savez_compressed(tmp, indices=indices, x=x, x_adv=x_adv)
                os.replace(tmp, folder / name)
            finally:
                tmp.unlink(missing_ok=True)
            if tracking:
                trajectories.save(folder, _trajectory(indices, fwd, events, norm), unit)
    samples = []
    scoreless = target.labels_only  # its answers tell no confidence
    true = target.y
    if attack.family == "evasion":
        unchanged = (x_adv == x) if text else (x_adv.reshape(n, -1) == x.reshape(n, -1)).all(axis=1)
        for row in np.nonzero(unchanged & ~success)[0].tolist():
            notes[row] = notes[row] or "the attack returned the sample unchanged"
    for i, idx in enumerate(indices):
        images = {}
        if folder is not None and target.data_type == "image":
            with writing_artifacts(folder):
                images = attack.save_evidence(
                    folder, int(idx), x[i], x_adv[i], target.bounds, classes[labels0[i]], classes[labels1[i]]
                )
        samples.append(
            SampleResult(
                index=int(idx),
                initial_label=classes[labels0[i]],
                initial_conf=None if scoreless else float(probs0[i, labels0[i]]),
                final_label=classes[labels1[i]],
                final_conf=None if scoreless else float(probs1[i, labels1[i]]),
                success=bool(success[i]),
                linf=float(dist["linf"][i]),
                l2=float(dist["l2"][i]),
                l0=int(dist["l0"][i]),
                forward_queries=int(fwd[i]),
                gradient_queries=int(grad[i]),
                true_label=classes[int(true[idx])] if true is not None else None,
                target_label=classes[goal[i]] if goal is not None else None,
                images=images,
                measures={name: float(values[i]) for name, values in measures.items()},
                note=notes[i],
                text={"original": str(x[i]), "adversarial": str(x_adv[i])} if text else None,
            )
        )
    return RunResult(
        run_id=run_id,
        attack=attack.name,
        framework=attack.framework,
        target=target.target_name,
        params={**attack.values(), **shape.values()},  # the attack says what its options applied
        seed=shape.seed,
        started_at=started,
        elapsed_s=elapsed,
        samples=samples,
        scan_id=scan_id,
        artifacts=str(folder) if folder is not None else None,
        family=attack.family,
        metrics=metrics,
    )
