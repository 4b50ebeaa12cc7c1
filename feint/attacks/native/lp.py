"""Norm pieces the minimal-norm and AutoAttack-style attacks share: per-sample norms in
Linf, L2 and L1, projections onto their balls, unit steps, the margin and DLR losses,
and the classes a targeted sweep aims at.

Every function works on a batch ``(N, ...)`` and gives one value (or one row) per sample.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from feint.attacks.params import Choice, Int

__all__ = [
    "NORMS",
    "norm_of",
    "dual_norm_of",
    "project_ball",
    "unit_step",
    "per_row",
    "margin",
    "dlr_loss",
    "ce_loss",
    "top_k_other",
    "TOP_K_TARGETS",
    "norm_choice",
]

NORMS = ("inf", "2", "1")
_DUAL = {"inf": "1", "2": "2", "1": "inf"}


def norm_choice(choices: tuple[str, ...] = ("inf", "2"), default: str = "inf") -> Choice:
    """The ``norm`` option, spelt as the other attacks spell it (``linf``, ``l2``, ``l1`` too)."""
    return Choice(
        default,
        f"the norm of the budget: {', '.join(choices[:-1])} or {choices[-1]}",
        choices=choices,
        aliases={"linf": "inf", "l2": "2", "l1": "1", "np.inf": "inf"},
    )


TOP_K_TARGETS = Int(
    0,
    "0: the run's own goal (untargeted, or the target class when targeted); K > 0: aim in "
    "turn at each of the K classes the model scores highest after the sample's own, and count "
    "any change of label (AutoAttack's targeted sweep; an untargeted run)",
    low=0,
    high=1000,
)


def per_row(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``v`` of shape ``(N,)`` shaped to broadcast against ``like`` ``(N, ...)``."""
    return v.view(-1, *([1] * (like.dim() - 1)))


def norm_of(d: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample Lp norm of a batch, ``(N,)``."""
    flat = d.reshape(len(d), -1)
    if norm == "inf":
        return flat.abs().amax(dim=1) if flat.shape[1] else flat.new_zeros(len(d))
    if norm == "1":
        return flat.abs().sum(dim=1)
    return flat.norm(dim=1)


def dual_norm_of(g: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample norm of ``g`` in the dual of ``norm`` (what bounds a linear change)."""
    return norm_of(g, _DUAL[norm])


def _l1_project(d: torch.Tensor, radius: torch.Tensor) -> torch.Tensor:
    """Rows of ``d`` projected onto the L1 balls of ``radius`` (Duchi et al. 2008, by sorting)."""
    flat = d.reshape(len(d), -1)
    a = flat.abs()
    inside = a.sum(dim=1) <= radius
    if bool(inside.all()):
        return d
    mu, _ = a.sort(dim=1, descending=True)
    cums = mu.cumsum(dim=1)
    k = torch.arange(1, flat.shape[1] + 1, dtype=flat.dtype)
    cond = mu - (cums - radius.unsqueeze(1)) / k > 0
    rho = cond.to(torch.int64).cumsum(dim=1).argmax(dim=1)  # the last index where it holds
    theta = (cums.gather(1, rho.unsqueeze(1)).squeeze(1) - radius) / (rho + 1).to(flat.dtype)
    out = flat.sign() * (a - theta.clamp_min(0).unsqueeze(1)).clamp_min(0)
    out = torch.where(inside.unsqueeze(1), flat, out)
    return out.view_as(d)


def project_ball(x: torch.Tensor, x_adv: torch.Tensor, eps: torch.Tensor | float, norm: str) -> torch.Tensor:
    """The point of the Lp ball of radius ``eps`` (one per sample, or one for all) around
    ``x`` nearest to ``x_adv`` (L1: the Euclidean projection), such that the distance
    measured afterwards in float64 never exceeds it. Linf: each coordinate is the
    representable value nearest to the exact projection that stays within ``eps`` in float64,
    so a coordinate can sit on the ball's face (an input rounded by the model, to 8 bits say,
    then rounds as it would at exactly ``eps``). L2 and L1: the radius is shrunk by the dtype's
    rounding error."""
    d = x_adv - x
    if norm == "inf":
        return _linf_project(x, d, eps)
    radius = torch.as_tensor(eps, dtype=x.dtype).expand(len(x)).clone()
    tiny = torch.finfo(x.dtype).eps
    scale_x = max(1.0, float(x.abs().max())) if x.numel() else 1.0
    dim = x[0].numel()
    r = (radius * (1 - 4 * tiny) - tiny * scale_x * (dim**0.5 if norm == "2" else dim)).clamp_min(0)
    if norm == "1":
        return x + _l1_project(d, r)
    n = norm_of(d, "2").clamp_min(1e-12)
    return x + d * per_row(torch.clamp(r / n, max=1.0), d)


def _linf_project(x: torch.Tensor, d: torch.Tensor, eps: torch.Tensor | float) -> torch.Tensor:
    """``x + d`` with each coordinate of ``d`` clipped to ``[-eps, eps]``; a coordinate that
    rounding left beyond ``eps`` of ``x`` in float64 becomes the value of ``x``'s dtype
    nearest to the face ``x +- eps``, moved one representable step towards ``x`` if that
    value is still beyond."""
    radius64 = per_row(torch.as_tensor(eps, dtype=torch.float64).expand(len(x)), d)
    out = x + torch.maximum(torch.minimum(d, radius64.to(x.dtype)), -radius64.to(x.dtype))
    if x.dtype == torch.float64:
        return out
    x64 = x.double()
    beyond = (out.double() - x64).abs() > radius64
    if not bool(beyond.any()):
        return out
    face = (x64 + torch.sign(d).double() * radius64).to(x.dtype)
    face = torch.where((face.double() - x64).abs() > radius64, torch.nextafter(face, x), face)
    return torch.where(beyond, face, out)


def unit_step(g: torch.Tensor, norm: str) -> torch.Tensor:
    """The direction of steepest ascent of a linear function with gradient ``g`` among
    vectors of unit ``norm`` (Linf: the sign; L2: the normalised gradient; L1: the
    normalised gradient, which the L1 projection then sparsifies)."""
    if norm == "inf":
        return g.sign()
    return g / per_row(norm_of(g, "2").clamp_min(1e-12), g)


def margin(z: torch.Tensor, labels: torch.Tensor, goal: torch.Tensor | None = None) -> torch.Tensor:
    """Per row: how far the sample is from adversarial in score units, below 0 when it is.
    Untargeted: ``z_y - max_{j != y} z_j``; targeted: ``max_{j != t} z_j - z_t``."""
    if goal is not None:
        zt = z.gather(1, goal.unsqueeze(1)).squeeze(1)
        other = z.scatter(1, goal.unsqueeze(1), float("-inf")).amax(dim=1)
        return other - zt
    zy = z.gather(1, labels.unsqueeze(1)).squeeze(1)
    other = z.scatter(1, labels.unsqueeze(1), float("-inf")).amax(dim=1)
    return zy - other


def dlr_loss(z: torch.Tensor, labels: torch.Tensor, goal: torch.Tensor | None = None) -> torch.Tensor:
    """The difference-of-logits-ratio loss of Croce and Hein (2020), to be maximised:
    untargeted ``-(z_y - max_{j != y} z_j) / (z_pi1 - z_pi3)``, targeted
    ``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``, with ``pi`` the classes sorted by
    score. Invariant to shifting and scaling the logits. With too few classes for the
    denominator (fewer than 3, or 4 targeted), the margin alone."""
    s, _ = z.sort(dim=1, descending=True)
    zy = z.gather(1, labels.unsqueeze(1)).squeeze(1)
    k = z.shape[1]
    if goal is None:
        other = z.scatter(1, labels.unsqueeze(1), float("-inf")).amax(dim=1)
        denom = s[:, 0] - s[:, 2] if k >= 3 else torch.ones_like(zy)
        return -(zy - other) / (denom + 1e-12)
    zt = z.gather(1, goal.unsqueeze(1)).squeeze(1)
    denom = s[:, 0] - (s[:, 2] + s[:, 3]) / 2 if k >= 4 else torch.ones_like(zy)
    return -(zy - zt) / (denom + 1e-12)


def ce_loss(z: torch.Tensor, labels: torch.Tensor, goal: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy to be maximised: away from the label, or (targeted) towards the goal."""
    if goal is None:
        return F.cross_entropy(z, labels, reduction="none")
    return -F.cross_entropy(z, goal, reduction="none")


def top_k_other(z: torch.Tensor, labels: torch.Tensor, k: int) -> torch.Tensor:
    """``(N, k)``: per row the ``k`` classes scored highest after the row's label (fewer
    columns when the model has fewer other classes)."""
    masked = z.scatter(1, labels.unsqueeze(1), float("-inf"))
    k = min(k, z.shape[1] - 1)
    return masked.topk(k, dim=1).indices
