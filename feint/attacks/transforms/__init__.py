"""The transformations framework: everyday image transformations (blur, JPEG, rotation,
noise, overlays, ...) as closed-box attacks, batched in torch.

Each transformation is an attack ``transforms.<name>`` that needs only the model's labels,
so it runs on every image target, open- or closed-box, labels-only and HTTP endpoints
included. In ``search`` mode (the default) it finds, per sample, the smallest strength
that changes the label; in ``fixed`` mode it applies one strength. The strength is each
sample's ``strength`` measure, shown beside the distances. The table of transformations is
:mod:`feint.attacks.transforms.table`, the search :mod:`feint.attacks.transforms.base`.
"""

from feint.attacks.transforms.base import Transformation, define
from feint.attacks.transforms.table import SPECS

ATTACKS: tuple[type[Transformation], ...] = tuple(define(spec) for spec in SPECS.values())

__all__ = ["ATTACKS", "SPECS", "Transformation"]
