"""Targeting, one piece every attack that can aim at a class reuses: its two options and
the goals they give.

An attack that can be targeted declares ``targeted = TARGETED`` (or a Bool of its own
wording) and ``target_labels = TARGET_LABELS``; the runner asks :func:`goals` for each
sample's goal class, so every attack reads ``target_labels`` the same way: class indices
or names, one for every sample or one per sample, and when none is given a random other
class per sample, drawn from the seed and the sample's position in the run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from feint.attacks.params import Bool, Labels
from feint.errors import BadValue

__all__ = ["TARGETED", "TARGET_LABELS", "goals", "resolve_labels", "random_other_classes"]

TARGETED = Bool(False, "turn each sample into a target class instead of any other class")
TARGET_LABELS = Labels(
    (),
    "classes to turn samples into when targeted: one for all or one per "
    "sample; empty picks a random other class per sample (seeded)",
)


def resolve_labels(classes: Sequence[str], labels: Sequence[str | int], n: int) -> np.ndarray:
    """Class indices for ``target_labels`` given by index or name: one for all, or one per sample."""
    classes = list(classes)
    out = []
    for lab in labels:
        if isinstance(lab, int) and 0 <= lab < len(classes):
            out.append(lab)
        elif isinstance(lab, str) and lab in classes:
            out.append(classes.index(lab))
        else:
            raise BadValue("target_labels", f"class indices 0 to {len(classes) - 1} or names {', '.join(classes)}", lab)
    if len(out) not in (1, n):
        raise BadValue("target_labels", f"one label, or one per sample ({n})", ",".join(map(str, labels)))
    return np.asarray(out * n if len(out) == 1 else out, dtype=np.int64)


def random_other_classes(labels: torch.Tensor, num_classes: int, gen: torch.Generator) -> torch.Tensor:
    """For each label, a uniformly random different class (seeded by ``gen``)."""
    shift = torch.randint(1, max(2, num_classes), labels.shape, generator=gen)
    return (labels + shift) % num_classes


def goals(
    classes: Sequence[str],
    labels: np.ndarray,
    targeted: bool,
    target_labels: Sequence[str | int],
    seed: int,
    offset: int = 0,
) -> np.ndarray | None:
    """Each sample's goal class, or None for an untargeted attack. ``labels``: the model's
    labels of the samples, which sit from position ``offset`` of their run; random goals
    are drawn for the whole run up to them, so a chunk gets the draws it would get in one piece."""
    if not targeted:
        return None
    if target_labels:
        return resolve_labels(classes, target_labels, len(labels))
    gen = torch.Generator().manual_seed(seed)
    padded = torch.cat([torch.zeros(offset, dtype=torch.int64), torch.as_tensor(labels, dtype=torch.int64)])
    return random_other_classes(padded, len(classes), gen)[offset:].numpy()
