"""The image transformations, batched in torch: each maps a batch ``(N, C, H, W)`` with
values in ``[0, 1]`` and one strength per sample ``(N,)`` to a batch of the same shape.

kornia does the perspective warp and the filters with a kernel per sample (defocus and
motion blur, snow's streaks); the rest is written here in torch, where a matrix along each
side, a sampling grid or a few whole-batch sums run faster on the CPU than kornia's general
operations. JPEG is libjpeg's integer codec written out in torch (:mod:`.codec`; kornia's
codec is a differentiable approximation, not what a server that re-encodes an image does).
One step leaves torch: text is rasterised by Pillow's bundled scalable font.

Every random choice a transformation makes (a noise field, a stripe angle, where a text
goes) is drawn once per sample from :class:`Draws`, counter-based numbers keyed by the
run's seed, the sample's index in the target and the transformation's name. The same
sample at any strength, in any batch, sees the same draws: a search over the strength
moves along one transformation, and re-applying the strength it found gives the image it
judged.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Draws", "Op", "LUMA"]

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601, as Pillow's "L" conversion


_U32 = np.uint32
_GOLDEN = _U32(0x9E3779B9)  # 2**32 over the golden ratio: the counter's step
_MIX = (_U32(0x85EBCA6B), _U32(0xC2B2AE35))  # MurmurHash3's finaliser


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser, in place: every input bit moves every output bit."""
    h ^= h >> _U32(16)
    h *= _MIX[0]
    h ^= h >> _U32(13)
    h *= _MIX[1]
    h ^= h >> _U32(16)
    return h


class Draws:
    """Per-sample random draws, a pure function of ``(seed, index, salt, key)`` and cached
    by key, so a transformation applied again to a sample draws what it drew before.
    ``rows`` picks the samples (positions in ``indices``) the current call works on.

    The draws are counter-based, made for the whole batch at once: each sample's stream
    has a 32-bit key hashed from the seed, the salt, the draw's key and the sample's index
    (SplitMix64), and its ``k``-th number is MurmurHash3's finaliser of the key and ``k``
    times the golden ratio's step. Uniforms are the top 24 bits, centred in their cell
    (never 0, never 1); normals are their inverse normal distribution function."""

    def __init__(self, seed: int, indices: np.ndarray, salt: str, rows: torch.Tensor | None = None, cache=None):
        self.seed = int(seed)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.salt = salt
        self.rows = torch.arange(len(self.indices)) if rows is None else rows
        self._whole = rows is None  # the current rows are all the samples, in order
        self._cache: dict[tuple[str, tuple[int, ...]], torch.Tensor] = {} if cache is None else cache

    def at(self, rows: torch.Tensor) -> Draws:
        """The same draws, for samples ``rows`` (positions among the current rows)."""
        return Draws(self.seed, self.indices, self.salt, self.rows[rows], self._cache)

    def _seeds(self, key: str, positions: np.ndarray) -> np.ndarray:
        """The 64-bit seed of each sample at ``positions`` for draw ``key`` (SplitMix64 of
        the run's seed, the salt and key's CRC, and the sample's index)."""
        h = zlib.crc32(f"{self.salt}/{key}".encode())
        with np.errstate(over="ignore"):
            z = np.uint64((self.seed * 1_000_003 + h) % 2**64) + self.indices[positions].astype(np.uint64) * np.uint64(
                0x9E3779B97F4A7C15
            )
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            return z ^ (z >> np.uint64(31))

    def _all(self, key: str, shape: tuple[int, ...], kind: str) -> torch.Tensor:
        ck = (f"{kind}:{key}", shape)
        if ck not in self._cache:
            n, m = len(self.indices), math.prod(shape)
            keys = (self._seeds(key, np.arange(n)) >> np.uint64(32)).astype(_U32)
            with np.errstate(over="ignore"):
                bits = _fmix32(keys.reshape(-1, 1) ^ (np.arange(1, m + 1, dtype=_U32) * _GOLDEN))
            bits >>= _U32(8)
            u = torch.from_numpy(bits.astype(np.float32)).add_(0.5).mul_(2.0**-24)  # in (0, 1)
            if kind == "normal":
                u = torch.erfinv(u.mul_(2).sub_(1)).mul_(math.sqrt(2))
            self._cache[ck] = u.view(n, *shape)
        return self._cache[ck]

    def normal(self, key: str, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal draws, ``(rows, *shape)``."""
        drawn = self._all(key, shape, "normal")
        return drawn if self._whole else drawn[self.rows]

    def uniform(self, key: str, shape: tuple[int, ...]) -> torch.Tensor:
        """Uniform draws in ``(0, 1)``, ``(rows, *shape)``."""
        drawn = self._all(key, shape, "uniform")
        return drawn if self._whole else drawn[self.rows]

    def generators(self, key: str) -> list[torch.Generator]:
        """A fresh generator per current row, seeded as every draw of that sample."""
        seeds = self._seeds(key, self.rows.numpy()) >> np.uint64(1)
        return [torch.Generator().manual_seed(int(v)) for v in seeds]


Fn = Callable[[torch.Tensor, torch.Tensor, Draws, dict[str, Any]], torch.Tensor]


class Op:
    """A transformation: its function and whether gradients flow through it."""

    def __init__(self, fn: Fn, differentiable: bool = True, colour: bool = False):
        self.fn = fn
        self.differentiable = differentiable
        self.colour = colour  # changes colour only: nothing to do on a one-channel image

    def __call__(self, x: torch.Tensor, s: torch.Tensor, d: Draws, o: dict[str, Any]) -> torch.Tensor:
        if self.colour and x.shape[1] != 3:
            return x
        return self.fn(x, s, d, o)


def _col(s: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return s.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def _pick(cond: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``torch.where(cond, a, b)`` for finite values, as arithmetic (``a * 1 + b * 0``):
    exactly the same numbers, and several times faster on the CPU than ``where``."""
    m = cond.to(a.dtype if a.is_floating_point() else b.dtype)
    return a * m + b * (1 - m)


def _mod(v: torch.Tensor, k: float) -> torch.Tensor:
    """``v`` modulo ``k`` (a floor, not ``remainder``'s slower path)."""
    return v - k * torch.floor(v / k)


def luma(x: torch.Tensor) -> torch.Tensor:
    """Grey level ``(N, 1, H, W)``: Pillow's luma for RGB, the channel itself otherwise."""
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    out = x[:, 0:1] * LUMA[0]
    return out.add_(x[:, 1:2], alpha=LUMA[1]).add_(x[:, 2:3], alpha=LUMA[2])


def _blend(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``t a + (1 - t) b`` per sample, clipped to ``[0, 1]``: Pillow's ImageEnhance blend.
    ``a`` is the batch, ``b`` anything that broadcasts to it (a mean, a grey plane), left
    unexpanded: a product and an in-place sum are several times faster on the CPU than
    ``lerp`` or ``addcmul`` over a broadcast."""
    lo, hi = float(t.min()) if len(t) else 0.0, float(t.max()) if len(t) else 0.0
    if hi == 0.0 and lo == 0.0:  # all of b (its images at every strength: one copy)
        return b.expand_as(a).clamp(0, 1)
    t = _col(t, a)
    out = (a * t).add_(b * (1 - t))
    # between two images in bounds (0 <= t <= 1) the blend stays in bounds, rounding too
    return out if 0.0 <= lo and hi <= 1.0 else out.clamp_(0, 1)


# -- colour and tone ------------------------------------------------------------------------
def brightness(x, s, d, o):
    out = (x * _col(s, x)).clamp_(0, 1)
    shift = float(o.get("shift", 0.0))
    if shift:  # ImageNet-C: add to the HSV value channel, keeping hue and saturation
        v = out.amax(dim=1, keepdim=True)
        v2 = (v + shift).clamp_(0, 1)
        ratio = torch.where(v > 0, v2 / v.clamp_min(1e-12), torch.zeros_like(v))
        out = torch.where(v > 0, out * ratio, v2.expand_as(out)).clamp_(0, 1)
    return out


def contrast(x, s, d, o):
    mean = luma(x).mean(dim=(1, 2, 3), keepdim=True)
    return _blend(x, mean, s)


def saturation(x, s, d, o):
    return _blend(x, luma(x), s)


def grayscale(x, s, d, o):
    return _blend(x, luma(x), 1 - s)


def sharpen(x, s, d, o):
    """Pillow's (and kornia's) sharpen: a blend with the image smoothed by the 3 x 3 kernel
    [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13, whose border pixels stay as they are."""
    n, c, h, w = x.shape
    if h < 3 or w < 3:
        return x
    rows = x[:, :, :, :-2] + x[:, :, :, 1:-1] + x[:, :, :, 2:]  # the 3 x 3 sum, a side at a time
    inner = (rows[:, :, :-2] + rows[:, :, 1:-1]).add_(rows[:, :, 2:])
    # inside the border, t x + (1 - t) (sum + 4 x) / 13: x weighs t + 4 (1 - t) / 13
    t = s.to(x.dtype)
    out = x.clone()
    inside = out[:, :, 1:-1, 1:-1]
    torch.mul(x[:, :, 1:-1, 1:-1], _col(t + 4 * (1 - t) / 13, x), out=inside)
    inside.add_(inner.mul_(_col((1 - t) / 13, x)))
    lo, hi = (float(t.min()), float(t.max())) if len(t) else (0.0, 0.0)
    return out if 0.0 <= lo and hi <= 1.0 else out.clamp_(0, 1)  # a blend of two smoothings stays in bounds


def colour_jitter(x, s, d, o):
    u = d.uniform("jitter", (4,)) * 2 - 1
    out = (x * _col((1 + s * u[:, 0]).clamp_min(0), x)).clamp_(0, 1)
    out = contrast(out, (1 + s * u[:, 1]).clamp_min(0), d, o)
    if x.shape[1] == 3:
        out = saturation(out, (1 + s * u[:, 2]).clamp_min(0), d, o)
        out = _hue_shift(out, s * u[:, 3] / 4)
    return out


_RAMPS = torch.tensor([5.0, 3.0, 1.0]).view(1, 3, 1, 1)  # where each channel's ramp starts


def _hue_shift(x: torch.Tensor, turn: torch.Tensor) -> torch.Tensor:
    """The hue of RGB ``x`` turned by ``turn`` ``(N,)`` of a full turn, its HSV value and
    saturation kept (kornia's ``adjust_hue``, in closed form: each channel is the value less
    the chroma times a ramp of the turned hue, all three channels at once)."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    hi = x.amax(dim=1, keepdim=True)
    chroma = hi - x.amin(dim=1, keepdim=True)
    # the hue in sixths of a turn, from the sextant of the largest channel: (g - b) / c
    # for red, 2 + (b - r) / c for green, 4 + (r - g) / c for blue, picked by two 0-or-1
    # weights (red is not the largest; nor is green); at a tie the hue is the same either way
    not_r, not_g = torch.sign(hi - r), torch.sign(hi - g)
    inv = 1 / chroma.clamp_min(1e-12)  # no chroma: no spread, and no weight on the ramp below
    red = (g - b).mul_(inv)
    green = (b - r).mul_(inv).add_(2)
    blue = (r - g).mul_(inv).add_(4)
    hue = blue.sub_(green).mul_(not_g).add_(green).sub_(red).mul_(not_r).add_(red)
    ramp = _mod(hue.add_(_col(turn * 6, x)) + _RAMPS.to(x.dtype), 6).sub_(2).abs_()  # min(v, 4 - v) is 2 - |v - 2|
    ramp = ramp.neg_().add_(2).clamp_(0, 1)
    return hi - chroma * ramp  # between the smallest channel and the largest: in bounds


def opacity(x, s, d, o):
    return _blend(x, torch.tensor(float(o.get("background", 0.0)), dtype=x.dtype), s)


# -- geometry --------------------------------------------------------------------------------
def _axis(size: int, align_corners: bool, dtype: torch.dtype) -> torch.Tensor:
    """The normalised coordinates of the pixel centres along a side of ``size``."""
    if align_corners:
        return torch.linspace(-1, 1, size, dtype=dtype) if size > 1 else torch.zeros(1, dtype=dtype)
    return (torch.arange(size, dtype=dtype) * 2 + 1) / size - 1


def _warp(x: torch.Tensor, theta: torch.Tensor, fill: float = 0.0, align_corners: bool = False) -> torch.Tensor:
    """Sample ``x`` at ``theta @ (u, v, 1)`` in normalised coordinates (the output's pixel
    centres); what falls outside the image takes ``fill``. The grid is ``affine_grid``'s,
    built by broadcasting (a sum of a row and a column term per sample), each coordinate a
    whole plane (``grid_sample`` reads the planes through a permuted view as fast as an
    interleaved grid, which costs several times more to write)."""
    n, _, h, w = x.shape
    theta = theta.to(x.dtype)
    u = _axis(w, align_corners, x.dtype).view(1, 1, w)
    v = _axis(h, align_corners, x.dtype).view(1, h, 1)
    planes = torch.empty((n, 2, h, w), dtype=x.dtype)
    for k in range(2):
        a, b, t = (theta[:, k, j].view(n, 1, 1) for j in range(3))
        torch.add(a * u + t, b * v, out=planes[:, k])
    grid = planes.permute(0, 2, 3, 1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)
    if fill:
        inside = F.grid_sample(torch.ones_like(x[:, :1]), grid, mode="bilinear", align_corners=align_corners)
        out = out + fill * (1 - inside)
    return out.clamp_(0, 1)


def _theta(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d_: torch.Tensor, tx=None, ty=None) -> torch.Tensor:
    z = torch.zeros_like(a)
    return torch.stack(
        [torch.stack([a, b, z if tx is None else tx], 1), torch.stack([c, d_, z if ty is None else ty], 1)], 1
    )


def rotate(x, s, d, o):
    """Counter-clockwise by ``s`` degrees about the image's centre, as kornia's ``rotate``
    (bilinear, zeros outside, ``align_corners``), its sampling grid built here directly."""
    _, _, h, w = x.shape
    if h < 2 or w < 2:
        return x
    a = s.to(torch.float64) * (math.pi / 180)
    cos, sin = torch.cos(a), torch.sin(a)
    ry, rx = (h - 1) / (w - 1), (w - 1) / (h - 1)  # the normalised axes' aspect
    return _warp(x, _theta(cos, -sin * ry, sin * rx, cos), align_corners=True)


def scale(x, s, d, o):
    inv = 1.0 / s.clamp_min(1e-6)
    z = torch.zeros_like(inv)
    return _warp(x, _theta(inv, z, z, inv), float(o.get("fill", 0.0)))


def pad(x, s, d, o):
    grow = 1.0 + 2.0 * s
    z = torch.zeros_like(grow)
    return _warp(x, _theta(grow, z, z, grow), float(o.get("fill", 0.0)))


def crop(x, s, d, o):
    u = d.uniform("crop", (2,)) * 2 - 1  # where the kept window sits
    keep = 1.0 - s
    z = torch.zeros_like(keep)
    return _warp(x, _theta(keep, z, z, keep, u[:, 0] * s, u[:, 1] * s))


def shear(x, s, d, o):
    one, z = torch.ones_like(s), torch.zeros_like(s)
    return _warp(x, _theta(one, s, z, one), float(o.get("fill", 0.0)))


def flip(x, s, d, o):
    return x.flip(-1 if o.get("direction", "horizontal") == "horizontal" else -2)


def perspective(x, s, d, o):
    import kornia

    n, _, h, w = x.shape
    corners = torch.tensor([[0.0, 0.0], [w - 1.0, 0.0], [w - 1.0, h - 1.0], [0.0, h - 1.0]], dtype=x.dtype)
    src = corners.expand(n, 4, 2)
    moved = src + d.normal("corners", (4, 2)).to(x.dtype) * _col(s, src) * torch.tensor([w, h], dtype=x.dtype)
    m = kornia.geometry.transform.get_perspective_transform(src, moved)
    return kornia.geometry.transform.warp_perspective(x, m, (h, w), padding_mode="zeros").clamp_(0, 1)


def _nearest(size: int, out: int) -> torch.Tensor:
    """The source of each of ``out`` pixels in nearest-neighbour upsampling from ``size``
    (``F.interpolate``'s: ``floor(i * size / out)`` in single precision)."""
    scale = torch.tensor(size / out, dtype=torch.float32)
    return torch.floor(torch.arange(out, dtype=torch.float32) * scale).to(torch.int64).clamp_(max=size - 1)


@lru_cache(maxsize=256)
def _pixel_side(side: int, cells: int) -> torch.Tensor:
    """Pixelation along a side as a ``(side, side)`` matrix: the means over ``cells`` cells
    (``adaptive_avg_pool``'s: cell ``i`` spans ``floor(i side / cells)`` to
    ``ceil((i + 1) side / cells)``), each pixel then taking its nearest cell's mean."""
    pool = torch.zeros((cells, side), dtype=torch.float64)
    for i in range(cells):
        lo, hi = (i * side) // cells, -((-(i + 1) * side) // cells)
        pool[i, lo:hi] = 1.0 / (hi - lo)
    return pool[_nearest(cells, side)].to(torch.float32)


def _sides(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``rows @ image @ cols.T`` for every image of ``x`` ``(N, C, H, W)``, clipped to
    ``[0, 1]``: one matrix product along the rows of the whole batch, then one along the
    columns."""
    n, c, h, w = x.shape
    along = (x.reshape(n * c * h, w) @ cols.to(x.dtype).T).view(n * c, h, w)
    return torch.matmul(rows.to(x.dtype), along).view(n, c, h, w).clamp_(0, 1)


def pixelate(x, s, d, o):
    """Area averaging down to ``s`` of each side, then nearest-neighbour back up: a matrix
    along each side (both steps at once), for each distinct size in the batch."""
    n, c, h, w = x.shape
    if n and float(s.min()) == float(s.max()):  # one strength (fixed, a severity)
        r = float(s[0])
        size = (max(1, int(h * r)), max(1, int(w * r)))
        return x if size == (h, w) else _sides(x, _pixel_side(h, size[0]), _pixel_side(w, size[1]))
    sizes = [(max(1, int(h * r)), max(1, int(w * r))) for r in s.tolist()]
    out = None
    for size in dict.fromkeys(sizes):
        if size == (h, w):
            continue
        whole = len(set(sizes)) == 1
        rows = torch.tensor([i for i, z in enumerate(sizes) if z == size])
        big = _sides(x if whole else x[rows], _pixel_side(h, size[0]), _pixel_side(w, size[1]))
        if whole:
            return big
        if out is None:
            out = x.clone()
        out[rows] = big
    return x if out is None else out


def jpeg(x, s, d, o):
    """libjpeg's baseline encoding at quality ``s`` and its decoding, for the whole batch in
    torch (:mod:`.codec`): the same 8-bit image Pillow's libjpeg gives."""
    from .codec import jpeg_roundtrip

    u8 = (x.detach() * 255).round().clamp(0, 255)
    return jpeg_roundtrip(u8, s.round()).div_(255).to(x.dtype)


# -- blur ------------------------------------------------------------------------------------
def _odd(k: int, h: int, w: int) -> int:
    k = max(3, k | 1)
    limit = (2 * min(h, w) - 1) | 1  # reflection needs the pad below the side
    return min(k, limit if limit % 2 else limit - 1)


def _gauss_matrices(sigma: torch.Tensor, size: int, cap: int, dtype: torch.dtype) -> torch.Tensor:
    """For each sigma ``(U,)``, the ``(size, size)`` matrix of a 1-D Gaussian blur along a
    side of ``size`` that reflects at both ends: a kernel of ``ceil(3 sigma)`` pixels each
    way (at least 1, at most ``cap``), normalised, its taps past the ends folded back."""
    r = max(1, min(cap, int(math.ceil(3 * float(sigma.max())))))
    t = torch.arange(-r, r + 1, dtype=dtype)
    sig = sigma.view(-1, 1)
    g = torch.exp(-(t.view(1, -1) ** 2) / (2 * sig**2))
    own = (3 * sig).ceil().clamp(1, cap)
    g = torch.where(t.view(1, -1).abs() <= own, g, torch.zeros_like(g))
    g = g / g.sum(dim=1, keepdim=True)
    idx = torch.arange(size).view(-1, 1) + torch.arange(-r, r + 1).view(1, -1)
    idx = torch.where(idx < 0, -idx, idx)
    idx = torch.where(idx >= size, 2 * (size - 1) - idx, idx)  # reflection without repeating the edge
    m = torch.zeros((len(sigma), size, size), dtype=dtype)
    k = 2 * r + 1
    m.scatter_add_(2, idx.view(1, size, k).expand(len(sigma), size, k), g.view(-1, 1, k).expand(-1, size, k))
    return m


@lru_cache(maxsize=64)
def _gauss_sides(sigmas: tuple[float, ...], size: int, cap: int) -> torch.Tensor:
    """:func:`_gauss_matrices` for a few ``sigmas``, in single precision, kept for the next
    call with the same strengths (a fixed strength, a corruption's severity)."""
    return _gauss_matrices(torch.tensor(sigmas, dtype=torch.float64), size, cap, torch.float64).to(torch.float32)


def blur(x, s, d, o):
    """Gaussian blur, separable, a kernel per sample, reflecting at the borders: each side
    one matrix product per sample (the blur of a side as a matrix, built once for each
    distinct strength in the batch)."""
    n, c, h, w = x.shape
    if n == 0:
        return x
    cap = min(h, w) - 1  # reflection needs the kernel's reach below the side
    if cap < 1:
        return x
    sigma = s.to(torch.float64).clamp_min(1e-3)
    if float(sigma.min()) == float(sigma.max()):  # one strength (fixed, a severity)
        rows, cols = _gauss_sides((float(sigma[0]),), h, cap), _gauss_sides((float(sigma[0]),), w, cap)
        return _sides(x, rows[0], cols[0])
    values, inverse = torch.unique(sigma, return_inverse=True)
    if len(values) <= 8:  # a few strengths: their matrices are kept
        key = tuple(values.tolist())
        rows, cols = _gauss_sides(key, h, cap), _gauss_sides(key, w, cap)
    else:
        rows = _gauss_matrices(values, h, cap, torch.float64).to(torch.float32)
        cols = _gauss_matrices(values, w, cap, torch.float64).to(torch.float32)
    if len(values) == 1:
        return _sides(x, rows[0], cols[0])
    out = torch.matmul(
        torch.matmul(rows[inverse].unsqueeze(1).to(x.dtype), x), cols[inverse].transpose(1, 2).unsqueeze(1).to(x.dtype)
    )
    return out.clamp_(0, 1)


def _filter(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    import kornia

    return kornia.filters.filter2d(x, kernels.to(x.dtype), border_type="reflect").clamp_(0, 1)


def defocus_blur(x, s, d, o):
    r = int(math.ceil(float(s.max()))) if len(s) else 1
    r = max(1, min(r, (min(x.shape[2], x.shape[3]) - 1) // 2))
    ax = torch.arange(-r, r + 1, dtype=x.dtype)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    disk = ((xx**2 + yy**2).unsqueeze(0) <= (s.to(x.dtype) ** 2).view(-1, 1, 1)).to(x.dtype)
    disk = disk / disk.sum(dim=(1, 2), keepdim=True).clamp_min(1)
    out = _filter(x, disk)
    alias = float(o.get("alias_sigma", 0.5))
    if alias <= 0:
        return out
    return blur(out, torch.where(s > 0, torch.full_like(s, alias), torch.zeros_like(s)), d, o)


def _streaks(radius: int, sigma: torch.Tensor, angle: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Motion-blur kernels ``(N, 2 radius + 1, 2 radius + 1)``: a one-sided streak
    ``radius`` pixels long at ``angle`` (radians) per sample, its weights a Gaussian of
    width ``sigma`` along it, bilinearly splatted, normalised (ImageMagick's motion blur)."""
    k = 2 * radius + 1
    n = len(angle)
    t = torch.arange(radius + 1, dtype=dtype)
    weight = torch.exp(-(t**2).view(1, -1) / (2 * sigma.to(dtype).clamp_min(1e-3).view(-1, 1) ** 2))
    px = radius + t.view(1, -1) * torch.cos(angle).view(-1, 1).to(dtype)
    py = radius + t.view(1, -1) * torch.sin(angle).view(-1, 1).to(dtype)
    kernels = torch.zeros(n, k, k, dtype=dtype)
    x0, y0 = px.floor(), py.floor()
    for dx in (0, 1):  # bilinear splat of each point of the streak
        for dy in (0, 1):
            wx = 1 - (px - (x0 + dx)).abs()
            wy = 1 - (py - (y0 + dy)).abs()
            cx, cy = (x0 + dx).clamp(0, k - 1).long(), (y0 + dy).clamp(0, k - 1).long()
            flat = (cy * k + cx).view(n, -1)
            kernels.view(n, -1).scatter_add_(1, flat, (weight * wx * wy).view(n, -1))
    return kernels / kernels.sum(dim=(1, 2), keepdim=True).clamp_min(1e-12)


def _reach(radius: int, x: torch.Tensor) -> int:
    return max(1, min(radius, (min(x.shape[2], x.shape[3]) - 1) // 2))


def motion_blur(x, s, d, o):
    """A one-sided streak ``radius`` pixels long at a random angle in [-45, 45] degrees per
    sample, its weights a Gaussian of width ``s`` along it (ImageMagick's motion blur)."""
    radius = _reach(int(o.get("radius", 10)), x)
    angle = (d.uniform("angle", (1,))[:, 0] * 90 - 45) * math.pi / 180
    return _filter(x, _streaks(radius, s, angle, x.dtype))


def snow(x, s, d, o):
    """ImageNet-C's snow, batched, its share ``s`` laid over the image (1: ImageNet-C's).
    Flakes: a normal field (mean ``mean``, deviation ``spread``) zoomed by ``zoom`` about
    the centre, cut below ``threshold``, streaked by a motion blur ``radius`` long of spread
    ``sigma`` at a random angle in [-135, -45] degrees; the image is whitened (``keep`` of
    it, the rest its maximum with 1.5 times its grey plus 0.5) and the flakes, and the
    flakes turned half a turn, are added."""
    n, c, h, w = x.shape
    if n == 0:
        return x
    flakes = d.normal("flakes", (1, h, w)).to(x.dtype) * float(o.get("spread", 0.3)) + float(o.get("mean", 0.1))
    inv = torch.full((n,), 1.0 / float(o.get("zoom", 1.0)), dtype=x.dtype)
    flakes = _warp(flakes, _theta(inv, torch.zeros_like(inv), torch.zeros_like(inv), inv))  # clipped to [0, 1]
    flakes = flakes * (flakes >= float(o.get("threshold", 0.6))).to(x.dtype)
    angle = (d.uniform("angle", (1,))[:, 0] * 90 - 135) * math.pi / 180
    radius = _reach(int(o.get("radius", 10)), x)
    sigma = torch.full((n,), float(o.get("sigma", 4.0)))
    flakes = _filter(flakes, _streaks(radius, sigma, angle, x.dtype))
    keep = float(o.get("keep", 0.85))
    white = keep * x + (1 - keep) * torch.maximum(x, luma(x) * 1.5 + 0.5)
    snowy = (white + flakes + flakes.flip(-1, -2)).clamp_(0, 1)
    return torch.lerp(x, snowy, _col(s, x)).clamp_(0, 1)


def frost_texture(d: Draws, n: int, h: int, w: int, dtype: torch.dtype) -> torch.Tensor:
    """Procedural ice, ``(N, 3, H, W)`` in [0, 1], one per sample: ridged fractal value
    noise (each octave's ridges ``1 - |2 v - 1|`` sharpened, finer octaves weaker) for the
    branching crystals, over a faint haze, tinted the pale blue of frost."""
    size = 1 << max(2, math.ceil(math.log2(max(h, w, 4))))
    ridges = torch.zeros(n, 1, size, size, dtype=dtype)
    total, amp, k, side = 0.0, 1.0, 0, 4
    while side <= size * 2:
        grid = d.uniform(f"ice{k}", (1, side, side)).to(dtype)
        v = F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=True)
        ridges = ridges + amp * (1 - (2 * v - 1).abs()).clamp_(0, 1) ** 4
        total, amp, k, side = total + amp, amp * 0.6, k + 1, side * 2
    ice = (ridges / total)[:, :, :h, :w]
    lo = ice.amin(dim=(2, 3), keepdim=True)
    hi = ice.amax(dim=(2, 3), keepdim=True)
    ice = (ice - lo) / (hi - lo).clamp_min(1e-12)
    haze = d.uniform("haze", (1, 1, 1)).to(dtype) * 0.2 + 0.25
    tint = torch.tensor([0.82, 0.9, 1.0], dtype=dtype).view(1, 3, 1, 1)
    return ((haze + (1 - haze) * ice) * tint).clamp_(0, 1)


def frost(x, s, d, o):
    """ImageNet-C's frost: ``keep`` of the image plus ``s`` of an ice texture, clipped. The
    texture is drawn here (:func:`frost_texture`) in place of ImageNet-C's six photographs
    of frost; a one-channel image takes its grey."""
    n, c, h, w = x.shape
    ice = frost_texture(d, n, h, w, x.dtype)
    if c != 3:
        ice = luma(ice).expand(n, c, h, w)
    return (float(o.get("keep", 1.0)) * x + _col(s, x) * ice).clamp_(0, 1)


def zoom_blur(x, s, d, o):
    """The mean of the image and its zooms by 1, 1.01, ... up to ``s`` (ImageNet-C)."""
    steps = int(round((float(s.max()) - 1) / 0.01)) if len(s) else 0
    total = x.clone()
    count = torch.ones(len(x), dtype=x.dtype)
    for k in range(steps + 1):
        z = 1 + 0.01 * k
        use = (s >= z - 1e-9).to(x.dtype)
        if not use.any():
            break
        inv = torch.full((len(x),), 1.0 / z, dtype=x.dtype)
        zero = torch.zeros_like(inv)
        total = total + _col(use, x) * _warp(x, _theta(inv, zero, zero, inv))
        count = count + use
    return (total / _col(count, x)).clamp_(0, 1)


def glass_blur(x, s, d, o):
    """ImageNet-C's glass blur, batched: a Gaussian blur of ``s``, then ``iterations`` rounds
    in which every pixel takes the value of a random neighbour at most ``delta`` pixels away
    (ImageNet-C swaps pixel pairs one after another; this moves them all at once), then the
    blur again. ``s`` = 0 changes nothing."""
    n, c, h, w = x.shape
    delta, rounds = int(o.get("delta", 1)), int(o.get("iterations", 1))
    out = blur(x, s, d, o)
    moved = s > 0
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    for k in range(rounds):
        off = (d.uniform(f"offsets{k}", (2, h, w)) * (2 * delta)).floor().long() - delta  # in [-delta, delta)
        sy = (yy.unsqueeze(0) + off[:, 0]).clamp(0, h - 1)
        sx = (xx.unsqueeze(0) + off[:, 1]).clamp(0, w - 1)
        flat = (sy * w + sx).view(n, 1, h * w).expand(n, c, h * w)
        shuffled = out.reshape(n, c, h * w).gather(2, flat).reshape(n, c, h, w)
        out = _pick(_col(moved, out).bool(), shuffled, out)
    return blur(out, s, d, o)


def elastic(x, s, d, o):
    """ImageNet-C's elastic transform, batched: a random affine map that moves three points
    by up to ``affine`` of the side, then every pixel displaced by smoothed random noise
    (a Gaussian of ``sigma`` of the side) scaled to ``s`` of the side; the image reflects
    at its borders."""
    n, c, h, w = x.shape
    side = float(min(h, w))
    affine = float(o.get("affine", 0.0)) * side
    sig = float(o.get("sigma", 0.05)) * side
    # the affine map: three points, each moved by a uniform offset in [-affine, affine]
    centre = torch.tensor([w / 2.0, h / 2.0], dtype=torch.float64)
    square = max(side // 3, 1.0)  # three points that span a triangle, however small the image
    src = torch.stack([centre + square, centre + torch.tensor([square, -square]), centre - square])
    dst = src.unsqueeze(0) + (d.uniform("affine", (3, 2)).double() * 2 - 1) * affine
    ones = torch.ones(3, 1, dtype=torch.float64)
    a = torch.cat([dst, ones.expand(n, 3, 1)], 2)  # output points -> input points
    m = torch.linalg.solve(a, src.unsqueeze(0).expand(n, 3, 2))  # (n, 3, 2)
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    pts = torch.stack([xx, yy, torch.ones_like(xx)], -1).view(1, h * w, 3)
    coords = (pts @ m).view(n, h, w, 2)  # input pixel of each output pixel
    # the elastic part: uniform noise in [-1, 1], smoothed, times s of the side
    noise = d.uniform("field", (2, h, w)).to(x.dtype) * 2 - 1
    if sig > 0:
        noise = blur(noise * 0.5 + 0.5, torch.full((n,), sig), d, o) * 2 - 1
    else:
        noise = torch.zeros_like(noise)
    coords = coords + noise.permute(0, 2, 3, 1).double() * (s.double() * side).view(-1, 1, 1, 1)
    gx = (2 * coords[..., 0] + 1) / w - 1  # pixel centres to normalised coordinates
    gy = (2 * coords[..., 1] + 1) / h - 1
    grid = torch.stack([gx, gy], -1).to(x.dtype)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False).clamp_(0, 1)


def fog(x, s, d, o):
    """ImageNet-C's fog: a fractal cloud added with weight ``s``, then the range rescaled.
    The cloud is fractal value noise (a uniform grid per octave, from 2 x 2 up to the image,
    each octave's weight the last one's over ``decay``) in place of ImageNet-C's
    diamond-square plasma fractal, whose roughness ``decay`` sets the same way."""
    n, c, h, w = x.shape
    size = 1 << max(1, math.ceil(math.log2(max(h, w, 2))))
    decay = float(o.get("decay", 2.0))
    cloud = torch.zeros(n, 1, size, size, dtype=x.dtype)
    amp, k, side = 1.0, 0, 2
    while side <= size:
        grid = d.uniform(f"octave{k}", (1, side, side)).to(x.dtype) * 2 - 1
        cloud = cloud + amp * F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=True)
        amp, k, side = amp / decay, k + 1, side * 2
    cloud = cloud[:, :, :h, :w]
    lo = cloud.amin(dim=(2, 3), keepdim=True)
    hi = cloud.amax(dim=(2, 3), keepdim=True)
    cloud = (cloud - lo) / (hi - lo).clamp_min(1e-12)
    top = x.amax(dim=(1, 2, 3), keepdim=True)
    amount = _col(s, x)
    return ((x + amount * cloud) * top / (top + amount).clamp_min(1e-12)).clamp_(0, 1)


# -- noise -----------------------------------------------------------------------------------
def gaussian_noise(x, s, d, o):
    return (d.normal("noise", tuple(x.shape[1:])).to(x.dtype) * _col(s, x)).add_(x).clamp_(0, 1)


def speckle_noise(x, s, d, o):
    return (x + x * _col(s, x) * d.normal("noise", tuple(x.shape[1:])).to(x.dtype)).clamp_(0, 1)


def shot_noise(x, s, d, o):
    out = torch.empty_like(x)
    for i, (g, lam) in enumerate(zip(d.generators("photons"), s.tolist())):
        out[i] = torch.poisson(x[i].detach().double() * lam, generator=g).to(x.dtype) / lam
    return out.clamp_(0, 1)


def salt_pepper(x, s, d, o):
    hit = d.uniform("where", tuple(x.shape[1:])).to(x.dtype) < _col(s, x)
    salt = (d.uniform("which", tuple(x.shape[1:])) < 0.5).to(x.dtype)
    return _pick(hit, salt, x)


def shuffle_pixels(x, s, d, o):
    """A fraction ``s`` of the pixels (all channels together) trade places in a random cycle:
    the picked pixels, in a random order, each take the next one's value. The order is one
    sort of an integer per pixel: a random number above its position's bits, the pixels
    left alone last and in their own order (int32 keys up to 4,096 pixels, with at least
    18 random bits; int64 above)."""
    n, c, h, w = x.shape
    m = h * w
    if n == 0 or m < 2:
        return x
    picked = d.uniform("where", (m,)) < s.view(-1, 1)
    bits = max(1, (m - 1).bit_length())  # a position's bits
    wide = m > 4096
    top = float(1 << ((62 if wide else 30) - bits))  # the random part's range; top itself: left alone
    dtype = torch.int64 if wide else torch.int32
    key = torch.where(picked, d.uniform("order", (m,)) * top, top).to(dtype)
    key = key.bitwise_left_shift_(bits).add_(torch.arange(m, dtype=dtype))
    rank = torch.from_numpy(np.sort(key.numpy(), axis=1)).bitwise_and_((1 << bits) - 1).long()  # picked first
    last = picked.sum(dim=1, keepdim=True) - 1  # the last picked pixel's place in the order
    pos = torch.arange(m)
    nxt = torch.where(pos < last, pos + 1, torch.where(pos == last, 0, pos))  # around the cycle
    source = torch.empty_like(rank).scatter_(1, rank, rank.gather(1, nxt))
    flat = x.reshape(n, c, m)
    return flat.gather(2, source.unsqueeze(1).expand(n, c, m)).reshape(n, c, h, w)


# -- overlays --------------------------------------------------------------------------------
def overlay_stripes(x, s, d, o):
    """Stripes across the image, ``s`` of each period covered, laid over it in ``colour``
    with ``opacity``: the covered share of each pixel's period is one comparison per
    sample and pixel, the painting one weighted sum."""
    n, c, h, w = x.shape
    angle = math.radians(float(o.get("angle", 0.0)))
    yy, xx = torch.meshgrid(torch.arange(h, dtype=x.dtype), torch.arange(w, dtype=x.dtype), indexing="ij")
    proj = xx * math.sin(angle) + yy * math.cos(angle)  # angle 0: horizontal stripes
    period = max(h, w) / float(o.get("density", 5))
    frac = (proj / period) % 1.0
    # covered where frac < s: s - frac is positive there, and its ceiling 1 once clipped
    weight = (s.view(-1, 1, 1).to(x.dtype) - frac).ceil_().clamp_(0, 1).mul_(float(o.get("opacity", 1.0)))
    weight = weight.unsqueeze(1)
    return (x * (1 - weight)).add_(weight * float(o.get("colour", 1.0))).clamp_(0, 1)


@lru_cache(maxsize=64)
def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _lay(out: torch.Tensor, rows: torch.Tensor, top, left, colour: torch.Tensor, a: torch.Tensor) -> None:
    """Lays ``colour`` (``(C or 1, hh, ww)``) with weights ``a`` (``(1, hh, ww)``) over the
    images ``out[rows]``, each with its corner at ``(top, left)`` (integers ``(m,)``; the
    piece lies inside), in place; their other pixels stay as they are."""
    m = len(rows)
    _, c, h, w = out.shape
    hh, ww = a.shape[-2:]
    ys = (top.view(-1, 1) + torch.arange(hh)).view(m, hh, 1)
    xs = (left.view(-1, 1) + torch.arange(ww)).view(m, 1, ww)
    flat = (ys * w + xs).view(m, 1, hh * ww).expand(-1, c, -1)
    whole = m == len(out)  # every image, in order: laid in place, no copy in and out
    region = out.view(m, c, h * w) if whole else out[rows].reshape(m, c, h * w)
    weight = a.reshape(1, 1, -1)
    under = region.gather(2, flat)
    region.scatter_(2, flat, under.mul_(1 - weight).add_(colour.reshape(1, colour.shape[0], -1) * weight))
    if not whole:
        out[rows] = region.view(m, c, h, w)


@lru_cache(maxsize=64)
def _text_piece(text: str, size: int) -> torch.Tensor:
    """``text`` in the bundled font at ``size`` pixels, its inked box only, as ``(1, th, tw)``
    coverage in [0, 1]."""
    from PIL import Image, ImageDraw

    font = _font(size)
    box = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    left, top, right, bottom = math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3])
    img = Image.new("L", (max(1, right - left), max(1, bottom - top)), 0)
    ImageDraw.Draw(img).text((-left, -top), text, fill=255, font=font)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)


def overlay_text(x, s, d, o):
    """``text`` ``s`` of the image's height tall, at a random place per sample (whole
    pixels, inside the image where it fits): rasterised once for each distinct size in the
    batch and laid over all the images of that size at once."""
    n, c, h, w = x.shape
    text = str(o.get("text", "feint"))
    where = d.uniform("where", (2,)).to(torch.float64)
    out = x.clone()
    sizes = torch.round(s.to(torch.float64) * h).to(torch.int64)
    colour = torch.full((1, 1, 1), float(o.get("colour", 1.0)), dtype=x.dtype)
    for size in sorted(set(sizes.tolist())):
        if size < 1 or not text:
            continue
        rows = torch.nonzero(sizes == size).view(-1)
        piece = _text_piece(text, size)
        th, tw = piece.shape[-2:]
        top = (where[rows, 1] * max(0, h - th)).to(torch.int64)
        left = (where[rows, 0] * max(0, w - tw)).to(torch.int64)
        a = piece[:, : min(th, h), : min(tw, w)].to(x.dtype) * float(o.get("opacity", 1.0))
        _lay(out, rows, top, left, colour, a)
    return out.clamp_(0, 1)


IMAGES = ("smiley", "heart", "astronaut", "chelsea", "coffee")


@lru_cache(maxsize=8)
def overlay_source(name: str) -> torch.Tensor:
    """The bundled overlay ``name`` as RGBA ``(4, 128, 128)`` in [0, 1]: two emoji drawn
    here, and photographs that scikit-image ships."""
    from PIL import Image, ImageDraw

    size = 128
    if name in ("smiley", "heart"):
        img = Image.new("RGBA", (size * 2, size * 2), (0, 0, 0, 0))
        draw = ImageDraw.Draw(img)
        if name == "smiley":
            draw.ellipse((8, 8, 248, 248), fill=(255, 204, 51, 255), outline=(120, 80, 0, 255), width=8)
            draw.ellipse((76, 70, 108, 118), fill=(60, 40, 0, 255))
            draw.ellipse((148, 70, 180, 118), fill=(60, 40, 0, 255))
            draw.arc((60, 90, 196, 206), start=20, end=160, fill=(60, 40, 0, 255), width=12)
        else:
            draw.ellipse((16, 40, 136, 160), fill=(220, 20, 60, 255))
            draw.ellipse((120, 40, 240, 160), fill=(220, 20, 60, 255))
            draw.polygon([(24, 120), (232, 120), (128, 236)], fill=(220, 20, 60, 255))
        img = img.resize((size, size), Image.Resampling.LANCZOS)
        arr = np.asarray(img, dtype=np.float32) / 255.0
    else:
        import skimage.data

        photo = getattr(skimage.data, name)()
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        img = Image.fromarray(photo[top : top + side, left : left + side]).resize(
            (size, size), Image.Resampling.LANCZOS
        )
        arr = np.concatenate([np.asarray(img, np.float32) / 255.0, np.ones((size, size, 1), np.float32)], axis=2)
    return torch.from_numpy(np.moveaxis(arr, -1, 0).copy())


def overlay_image(x, s, d, o):
    """The overlay, resized (area averaging) to ``s`` of the shorter side, laid over each
    image at a random place: one resize for each distinct size in the batch, and all the
    images of a size pasted at once (by index), their other pixels left as they are."""
    n, c, h, w = x.shape
    src = overlay_source(str(o.get("image", "smiley")))
    rgb, alpha = src[:3], src[3:]
    if c != 3:
        rgb = luma(rgb.unsqueeze(0))[0].expand(c, -1, -1)
    where = d.uniform("where", (2,))
    out = x.clone()
    sides = torch.round(s.to(torch.float64) * min(h, w)).to(torch.int64)
    opacity = float(o.get("opacity", 1.0))
    for side in sorted(set(sides.tolist())):
        if side < 1:
            continue
        rows = torch.nonzero(sides == side).view(-1)
        piece = F.interpolate(torch.cat([rgb, alpha]).unsqueeze(0), size=(side, side), mode="area")[0]
        hh, ww = min(side, h), min(side, w)  # a piece at least as large as the image starts at its corner
        piece = piece[:, :hh, :ww].to(x.dtype)
        u = where[rows].to(torch.float64)
        top = (u[:, 1] * (h - side + 1)).to(torch.int64) if side < h else torch.zeros(len(rows), dtype=torch.int64)
        left = (u[:, 0] * (w - side + 1)).to(torch.int64) if side < w else torch.zeros(len(rows), dtype=torch.int64)
        _lay(out, rows, top, left, piece[:-1], piece[-1:] * opacity)
    return out.clamp_(0, 1)
