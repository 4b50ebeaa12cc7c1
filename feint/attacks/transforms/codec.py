"""Baseline JPEG, encoded and decoded again, for a whole batch at once in torch: the steps
libjpeg (as Pillow calls it, ``save(format="JPEG", quality=q)`` then ``open``) takes, in
its integer arithmetic where it has it.

- colour: RGB to YCbCr in libjpeg's 16-bit fixed point, and back the same way;
- chroma: 4:2:0, each 2 x 2 block averaged with libjpeg's alternating rounding bias, and
  restored by its "fancy" triangle upsampling (3/4 nearer, 1/4 farther sample, each way;
  by repetition where the chroma is 2 columns wide or less, as libjpeg does);
- the edges: the image repeated past its right and bottom edges to whole blocks, and
  the chroma as libjpeg pads it: its pixel rows repeated only to an even count, then its
  last downsampled row repeated to whole blocks;
- the forward DCT: libjpeg's default integer transform (``JDCT_ISLOW``, Loeffler,
  Ligtenberg and Moschytz's factorisation in 13-bit fixed point), exactly, on every block
  of the batch at once;
- quantisation: the IJG tables of the JPEG standard's Annex K scaled by quality as
  ``jpeg_set_quality`` does (baseline, entries 1 to 255), rounded half away from zero;
- the inverse DCT: libjpeg's default integer inverse (jidctint.c's factorisation), exactly.

Every step is libjpeg's integer arithmetic, so the output is libjpeg's to the bit: on MNIST
digits, the ``photos`` samples and random images of odd sizes, at qualities 5 to 100, it
equals what Pillow 13 (libjpeg-turbo) gives in every pixel.

A one-channel image is coded as greyscale (no colour conversion, no subsampling); an image
of another channel count, each channel as its own greyscale image.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = ["jpeg_roundtrip", "quant_tables"]

_LUMA_Q = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_CHROMA_Q = tuple(
    tuple(v for v in row) + (99,) * (8 - len(row))
    for row in ((17, 18, 24, 47), (18, 21, 26, 66), (24, 26, 56), (47, 66), (), (), (), ())
)


def quant_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The luminance and chrominance tables ``(N, 8, 8)`` for qualities ``(N,)`` (integers,
    clipped to 1-100), as libjpeg's ``jpeg_set_quality`` with ``force_baseline``."""
    q = quality.to(torch.int64).clamp(1, 100)
    scale = torch.where(q < 50, 5000 // q, 200 - 2 * q).view(-1, 1, 1)
    out = []
    for base in (_LUMA_Q, _CHROMA_Q):
        b = torch.tensor(base, dtype=torch.int64).unsqueeze(0)
        out.append(((b * scale + 50) // 100).clamp(1, 255))
    return out[0], out[1]


# -- libjpeg's integer DCTs (jfdctint.c's and jidctint.c's factorisations) ---------------
_CONST_BITS, _PASS1_BITS = 13, 2


def _fix(v: float) -> int:
    return int(v * (1 << _CONST_BITS) + 0.5)


_C = {
    name: _fix(value)
    for name, value in {
        "0_298631336": 0.298631336,
        "0_390180644": 0.390180644,
        "0_541196100": 0.541196100,
        "0_765366865": 0.765366865,
        "0_899976223": 0.899976223,
        "1_175875602": 1.175875602,
        "1_501321110": 1.501321110,
        "1_847759065": 1.847759065,
        "1_961570560": 1.961570560,
        "2_053119869": 2.053119869,
        "2_562915447": 2.562915447,
        "3_072711026": 3.072711026,
    }.items()
}


def _fdct_raw(d: torch.Tensor) -> torch.Tensor:
    """jfdctint.c's 8-point butterfly along the last axis, before its final rounding shift:
    outputs 0 and 4 (which libjpeg shifts by fewer bits) are scaled up by ``2**13`` so one
    rounding shift serves all eight (11 bits in the row pass, 15 in the column pass). Every
    step is an integer sum or product, so the butterfly is an integer matrix."""
    d0, d1, d2, d3, d4, d5, d6, d7 = d.unbind(-1)
    t0, t7 = d0 + d7, d0 - d7
    t1, t6 = d1 + d6, d1 - d6
    t2, t5 = d2 + d5, d2 - d5
    t3, t4 = d3 + d4, d3 - d4
    t10, t13 = t0 + t3, t0 - t3
    t11, t12 = t1 + t2, t1 - t2
    o0, o4 = (t10 + t11) * (1 << _CONST_BITS), (t10 - t11) * (1 << _CONST_BITS)
    z1 = (t12 + t13) * _C["0_541196100"]
    o2 = z1 + t13 * _C["0_765366865"]
    o6 = z1 - t12 * _C["1_847759065"]
    z1, z2, z3, z4 = t4 + t7, t5 + t6, t4 + t6, t5 + t7
    z5 = (z3 + z4) * _C["1_175875602"]
    t4, t5 = t4 * _C["0_298631336"], t5 * _C["2_053119869"]
    t6, t7 = t6 * _C["3_072711026"], t7 * _C["1_501321110"]
    z1, z2 = z1 * -_C["0_899976223"], z2 * -_C["2_562915447"]
    z3, z4 = z3 * -_C["1_961570560"] + z5, z4 * -_C["0_390180644"] + z5
    return torch.stack([o0, t7 + z1 + z4, o2, t6 + z2 + z3, o4, t5 + z2 + z4, o6, t4 + z1 + z3], -1)


def _idct_raw(d: torch.Tensor) -> torch.Tensor:
    """jidctint.c's 8-point butterfly along the last axis (coefficients in, samples out),
    before its rounding shift (11 bits in the column pass, 18 in the row pass)."""
    c0, c1, c2, c3, c4, c5, c6, c7 = d.unbind(-1)
    z1 = (c2 + c6) * _C["0_541196100"]
    t2 = z1 - c6 * _C["1_847759065"]
    t3 = z1 + c2 * _C["0_765366865"]
    t0, t1 = (c0 + c4) * (1 << _CONST_BITS), (c0 - c4) * (1 << _CONST_BITS)
    t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
    z1, z2, z3, z4 = c7 + c1, c5 + c3, c7 + c3, c5 + c1
    z5 = (z3 + z4) * _C["1_175875602"]
    o0 = c7 * _C["0_298631336"]
    o1 = c5 * _C["2_053119869"]
    o2 = c3 * _C["3_072711026"]
    o3 = c1 * _C["1_501321110"]
    z1, z2 = z1 * -_C["0_899976223"], z2 * -_C["2_562915447"]
    z3, z4 = z3 * -_C["1_961570560"] + z5, z4 * -_C["0_390180644"] + z5
    o0, o1, o2, o3 = o0 + z1 + z3, o1 + z2 + z4, o2 + z2 + z3, o3 + z1 + z4
    return torch.stack([t10 + o3, t11 + o2, t12 + o1, t13 + o0, t13 - o0, t12 - o1, t11 - o2, t10 - o3], -1)


# The butterflies as matrices (``x @ M`` transforms rows ``x``): their integer entries and
# the integer samples keep every product and sum below 2**53, so float64 matrix products
# (BLAS, the whole batch at once) give libjpeg's integers exactly.
_FDCT = _fdct_raw(torch.eye(8, dtype=torch.float64))
_IDCT = _idct_raw(torch.eye(8, dtype=torch.float64))


def _shifted(m: torch.Tensor, bits: int) -> torch.Tensor:
    return m * (1.0 / (1 << bits))


_ROWS_FDCT = _shifted(_FDCT, 11).T
_ROWS_OFFSET = (0.5 - 128 * _ROWS_FDCT.sum(dim=1)).view(1, 8, 1)  # exact: sixteenths of 2**-11


def _descale_(y: torch.Tensor) -> torch.Tensor:
    """libjpeg's ``DESCALE`` (a right shift, rounding) of ``y``, in place: ``y`` comes
    already multiplied by the power of two the shift divides by, so every value stays an
    exact float64."""
    return y.add_(0.5).floor_()


def _code(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> list[torch.Tensor]:
    """Each of ``parts``, planes ``(N, C, H, W)`` of 8-bit samples (integers in float32,
    sides multiples of 8) with their tables ``(N, C, 8, 8)``, through libjpeg's forward
    DCT, quantisation and inverse DCT: samples again (clipped to 0-255, float32).

    The blocks of all the parts are laid out once as ``(8, 8, K)``: a block's row, its
    column, then every block, so that each pass of the butterflies is one product of an
    8 x 8 matrix with a wide matrix (8 x 8K along the columns of the blocks, eight of 8 x K
    along their rows), the shape BLAS runs fastest; in the blocks' natural layout the
    products have 8 columns and run several times slower. The transforms run in float64,
    the layout's copies in float32."""
    shapes = [planes.shape for planes, _ in parts]
    laid = [
        p.view(n, c, h // 8, 8, w // 8, 8).permute(3, 5, 0, 1, 2, 4).reshape(8, 8, -1)
        for (p, _), (n, c, h, w) in zip(parts, shapes)
    ]
    blocks = laid[0] if len(laid) == 1 else torch.cat(laid, dim=2)
    # along the rows; the samples' level shift by 128 goes into the rounding's offset
    coef = torch.matmul(_ROWS_FDCT, blocks.to(torch.float64)).add_(_ROWS_OFFSET).floor_()
    coef = _descale_(_shifted(_FDCT, 15).T @ coef.view(8, -1)).view(8, 8, -1)  # 8 x the DCT
    start = 0
    for (_, tables), (n, c, h, w) in zip(parts, shapes):
        # libjpeg divides the scaled coefficients by 8q, rounding half away from zero
        k = n * c * (h // 8) * (w // 8)
        q = tables.to(torch.float64).permute(2, 3, 0, 1).reshape(8, 8, n * c, 1)
        part = coef[:, :, start : start + k].view(8, 8, n * c, -1)
        sign = torch.sign(part)
        part.abs_().add_(4 * q).div_(8 * q).floor_().mul_(q).mul_(sign)
        start += k
    back = _descale_(_shifted(_IDCT, 11).T @ coef.view(8, -1)).view(8, 8, -1)  # along the columns
    # along the rows, the level shift back by 128 in the rounding's offset
    back = torch.matmul(_shifted(_IDCT, 18).T, back).add_(128.5).floor_().to(torch.float32).clamp_(0, 255)
    out, start = [], 0
    for n, c, h, w in shapes:
        k = n * c * (h // 8) * (w // 8)
        piece = back[:, :, start : start + k].reshape(8, 8, n, c, h // 8, w // 8)
        out.append(piece.permute(2, 3, 4, 0, 5, 1).reshape(n, c, h, w))
        start += k
    return out


def _fix16(v: float) -> int:
    return int(v * 65536 + 0.5)


def _shr(v: torch.Tensor, bits: int) -> torch.Tensor:
    """An arithmetic right shift of integers held in floats (in place)."""
    return v.mul_(1.0 / (1 << bits)).floor_()


def _convert(planes: torch.Tensor, weights: tuple[tuple[int, ...], ...], consts: tuple[int, ...]) -> torch.Tensor:
    """``(sum(w * plane) + const) >> 16`` for each row of ``weights``, ``(N, len(weights),
    H, W)``, as one matrix product over the batch: exact in float32, since every product
    and partial sum of 8-bit samples and these 16-bit weights stays below 2**24."""
    n, k, h, w = planes.shape
    m = torch.tensor(weights, dtype=planes.dtype)
    out = torch.matmul(m, planes.reshape(n, k, h * w))
    out.add_(torch.tensor(consts, dtype=planes.dtype).view(1, -1, 1))
    return out.mul_(1.0 / 65536).floor_().view(n, len(weights), h, w)


_HALF, _OFF = 1 << 15, 128 << 16
_YCC = (
    (_fix16(0.299), _fix16(0.587), _fix16(0.114)),
    (-_fix16(0.16874), -_fix16(0.33126), _fix16(0.5)),
    (_fix16(0.5), -_fix16(0.41869), -_fix16(0.08131)),
)
_RGB = ((0, _fix16(1.402)), (-_fix16(0.34414), -_fix16(0.71414)), (_fix16(1.772), 0))


def _to_ycc(rgb: torch.Tensor) -> torch.Tensor:
    """libjpeg's RGB to YCbCr (jccolor.c's 16-bit fixed point), on integers in floats."""
    return _convert(rgb, _YCC, (_HALF, _OFF + _HALF - 1, _OFF + _HALF - 1))


def _to_rgb(y: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """libjpeg's YCbCr to RGB (jdcolor.c's), clipped to 0-255."""
    return _convert(chroma - 128, _RGB, (_HALF,) * 3).add_(y.unsqueeze(1)).clamp_(0, 255)


def _downsample(c: torch.Tensor) -> torch.Tensor:
    """2 x 2 means with libjpeg's bias, 1 and 2 in turn along each row."""
    s = c[:, :, 0::2, 0::2] + c[:, :, 0::2, 1::2] + c[:, :, 1::2, 0::2] + c[:, :, 1::2, 1::2]
    bias = 1 + (torch.arange(c.shape[3] // 2, dtype=c.dtype) % 2)
    return _shr(s + bias, 2)


@lru_cache(maxsize=64)
def _triangle(size: int, out: int) -> torch.Tensor:
    """libjpeg's fancy upsampling along a side as a ``(out, size)`` matrix of integers:
    output ``2i`` is 3 times input ``i`` plus input ``i - 1``, output ``2i + 1`` 3 times
    input ``i`` plus input ``i + 1``, the side's ends repeated."""
    m = torch.zeros((2 * size, size))
    for i in range(size):
        m[2 * i, i] += 3
        m[2 * i, max(i - 1, 0)] += 1
        m[2 * i + 1, i] += 3
        m[2 * i + 1, min(i + 1, size - 1)] += 1
    return m[:out]


def _upsample(c: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """libjpeg's fancy 2 x 2 upsampling of ``c`` (its first ``ceil(h / 2)`` rows and
    ``ceil(w / 2)`` columns, the rest being padding), to ``h`` x ``w``: the triangle filter
    along each side (a matrix product each; their integer sums stay below 2**24, exact in
    float32), then libjpeg's one rounding, a bias of 8 on even columns and 7 on odd ones and
    a shift by 4."""
    c = c[:, :, : (h + 1) // 2, : (w + 1) // 2]
    n, k, ch, cw = c.shape
    if cw <= 2:  # libjpeg upsamples a chroma of 2 columns or fewer by repetition
        return c.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[:, :, :h, :w]
    along = (c.reshape(n * k * ch, cw) @ _triangle(cw, w).T).view(n * k, ch, w)
    out = torch.matmul(_triangle(ch, h), along).view(n, k, h, w)
    bias = 8 - (torch.arange(w) % 2).to(out.dtype)
    return out.add_(bias).mul_(1 / 16).floor_()


def jpeg_roundtrip(u8: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """Images ``(N, C, H, W)`` of 8-bit values (integers in any dtype) encoded at
    ``quality`` ``(N,)`` and decoded: 8-bit values as float32."""
    n, c, h, w = u8.shape
    x = u8.to(torch.float32)
    if n == 0 or h == 0 or w == 0:
        return x
    lq, cq = quant_tables(quality)
    unit = 16 if c == 3 else 8
    ph, pw = -h % unit, -w % unit
    if ph or pw:  # libjpeg repeats the last column and row out to whole blocks
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    if c != 3:
        return _code([(x, lq.unsqueeze(1).expand(n, c, 8, 8))])[0][:, :, :h, :w]
    ycc = _to_ycc(x)
    # the chroma rows: libjpeg repeats the last of the image's pixel rows only to an even
    # count, and, once downsampled, repeats the last chroma row out to whole blocks
    rows = (h + 1) // 2
    chroma = _downsample(ycc[:, 1:, : 2 * rows])
    if -rows % 8:
        chroma = F.pad(chroma, (0, 0, 0, -rows % 8), mode="replicate")
    y, chroma = _code([(ycc[:, :1], lq.unsqueeze(1)), (chroma, cq.unsqueeze(1).expand(n, 2, 8, 8))])
    return _to_rgb(y[:, 0, :h, :w], _upsample(chroma, h, w))
