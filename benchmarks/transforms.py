"""feint's batched transformations beside AugLy's own, on real digits and photographs.

Each transformation runs over the first ``--digits`` MNIST digits of ``digits_blackbox``
(28 x 28, one channel) and the first ``--photos`` samples of ``photos`` (32 x 32 colour):
feint's implementation on the whole batch at once (a float tensor in, a float tensor out,
as a run uses it), AugLy's function on each image (a PIL image in, a PIL image out, as
Counterfit used it). It prints images per second for each and the ratio feint / AugLy,
each the best of ``--rounds`` timings (the two tools' rounds interleaved, each round at
least 50 ms of repeated calls), and, where the two compute the same thing, how
close the outputs are on the first images (largest and mean absolute difference, in units
of the value range, AugLy's output being 8-bit). Rows marked ``differs`` compute a
different thing by design (AugLy changes the image size, draws from its own random
generator, or uses its own assets); they are timed only.

AugLy is not a dependency of feint; install it to run this (``pip install augly==1.0.0``).

    python benchmarks/transforms.py                          # 1,000 digits, 100 photos
    python benchmarks/transforms.py --digits 100 --photos 20 --rounds 1 --only blur,jpeg
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "torch")


@dataclass
class Pair:
    name: str  # feint's transformation
    strength: float  # feint's strength
    augly: str  # AugLy's function
    kwargs: dict[str, Any]
    same: bool  # both compute the same image
    options: dict[str, Any] | None = None  # feint's other options
    why: str = ""  # what differs, where it does


def pairs(emoji: str) -> list[Pair]:
    return [
        Pair("blur", 1.5, "blur", {"radius": 1.5}, True, why="Pillow's Gaussian is an approximation"),
        Pair("brightness", 1.4, "brightness", {"factor": 1.4}, True),
        Pair("contrast", 0.5, "contrast", {"factor": 0.5}, True),
        Pair("saturation", 0.3, "saturation", {"factor": 0.3}, True),
        Pair("sharpen", 3.0, "sharpen", {"factor": 3.0}, True),
        Pair("grayscale", 1.0, "grayscale", {}, True),
        Pair("flip", 0.0, "hflip", {}, True, {"direction": "horizontal"}),
        Pair("pixelate", 0.5, "pixelization", {"ratio": 0.5}, True, why="area averaging against Pillow's box filter"),
        Pair("jpeg", 30, "encoding_quality", {"quality": 30}, True),
        Pair("opacity", 0.6, "opacity", {"level": 0.6}, False, why="AugLy sets the alpha channel; feint blends"),
        Pair("rotate", 15.0, "rotate", {"degrees": 15.0}, False, why="AugLy crops to the largest rectangle inside"),
        Pair("scale", 0.5, "scale", {"factor": 0.5}, False, why="AugLy changes the image size"),
        Pair(
            "crop",
            0.5,
            "crop",
            {"x1": 0.25, "y1": 0.25, "x2": 0.75, "y2": 0.75},
            False,
            why="AugLy keeps the crop's size",
        ),
        Pair("pad", 0.25, "pad", {"w_factor": 0.25, "h_factor": 0.25}, False, why="AugLy changes the image size"),
        Pair("perspective", 0.1, "perspective_transform", {"sigma": 3.0}, False, why="random corners"),
        Pair("gaussian_noise", 0.1, "random_noise", {"var": 0.01}, False, why="random draws"),
        Pair("shuffle_pixels", 0.3, "shuffle_pixels", {"factor": 0.3}, False, why="random draws"),
        Pair("overlay_stripes", 0.5, "overlay_stripes", {"line_width": 0.5}, False, why="stripe geometry"),
        Pair("overlay_text", 0.3, "overlay_text", {"font_size": 0.3}, False, why="font and text"),
        Pair("overlay_image", 0.3, "overlay_emoji", {"emoji_path": emoji, "emoji_size": 0.3}, False, why="the emoji"),
        Pair(
            "colour_jitter",
            0.3,
            "color_jitter",
            {"brightness_factor": 1.2, "contrast_factor": 0.8, "saturation_factor": 1.3},
            False,
            why="random factors",
        ),
    ]


class Timing:
    """Seconds per call of ``fn``, the best of its timings so far, and its last output. A
    timing repeats the call until it has run for ``least`` seconds (``timeit``'s way: a
    call of a tenth of a millisecond timed alone is mostly the clock and the scheduler)."""

    def __init__(self, fn: Callable[[], Any], least: float = 0.05):
        self.fn = fn
        self.out = fn()  # a first call, untimed: caches and lazy imports
        start = time.perf_counter()
        self.out = fn()
        self.calls = max(1, math.ceil(least / max(time.perf_counter() - start, 1e-9)))
        self.best = float("inf")

    def round(self) -> None:
        start = time.perf_counter()
        for _ in range(self.calls):
            self.out = self.fn()
        self.best = min(self.best, (time.perf_counter() - start) / self.calls)


def best_of(rounds: int, *fns: Callable[[], Any]) -> list[Timing]:
    """Each of ``fns`` timed ``rounds`` times, their rounds interleaved, so that a spell of
    load on the machine falls on both sides of a comparison, not on one."""
    timings = [Timing(fn) for fn in fns]
    for _ in range(rounds):
        for t in timings:
            t.round()
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=1000, help="MNIST digits (default 1000)")
    parser.add_argument("--photos", type=int, default=100, help="photos samples (default 100)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="timings per measurement, the two tools' interleaved; the best is kept (default 10)",
    )
    parser.add_argument("--only", help="comma-separated transformations (default: all)")
    parser.add_argument("--compare", type=int, default=5, help="images whose outputs are compared (default 5)")
    args = parser.parse_args(argv)

    import augly
    import augly.image.functional as aug
    import torch
    from PIL import Image

    from feint.attacks.transforms.ops import Draws
    from feint.attacks.transforms.table import SPECS
    from feint.targets import get_target

    emoji = os.path.join(os.path.dirname(augly.__file__), "assets", "twemojis", "smileys", "smiling_face.png")
    chosen = pairs(emoji)
    if args.only:
        names = set(args.only.split(","))
        chosen = [p for p in chosen if p.name in names]
    sets = []
    for target_name, n in (("digits_blackbox", args.digits), ("photos", args.photos)):
        if n > 0:
            t = get_target(target_name)
            x = t.get_samples(np.arange(min(n, len(t.X)))).astype(np.float32)
            sets.append((target_name, x))
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}; AugLy {getattr(augly, '__version__', '1.0.0')}"
    )
    header = (
        f"{'transformation':16} {'data':16} {'images':>6} {'feint img/s':>12} {'AugLy img/s':>12} {'ratio':>8}  outputs"
    )
    print(header)
    print("-" * len(header))
    ratios: list[float] = []
    working: list[float] = []  # the rows where feint changes the image (not colour on grey)
    for name, x in sets:
        xt = torch.from_numpy(x)
        u8 = (x * 255).round().clip(0, 255).astype(np.uint8)
        pil = [Image.fromarray(im[0] if im.shape[0] == 1 else np.moveaxis(im, 0, -1)) for im in u8]  # grey as "L"
        for pair in chosen:
            spec = SPECS[pair.name]
            opts = {k: p.default for k, p in spec.options.items()} | (pair.options or {})
            strength = torch.full((len(x),), float(pair.strength))

            def ours(spec=spec, opts=opts, strength=strength, xt=xt):
                return spec.op(xt, strength, Draws(0, np.arange(len(xt)), spec.name), opts)

            fn = getattr(aug, pair.augly)

            def theirs(fn=fn, pair=pair, pil=pil):
                return [fn(im, **pair.kwargs) for im in pil]

            try:
                theirs()
            except Exception as exc:  # an AugLy function that fails on these images
                (mine,) = best_of(args.rounds, ours)
                print(
                    f"{pair.name:16} {name:16} {len(x):6d} {len(x) / mine.best:12.0f} {'failed':>12} {'-':>8}  AugLy: {str(exc).splitlines()[0]}"
                )
                continue
            mine, peer = best_of(args.rounds, ours, theirs)
            t_ours, out, t_theirs, back = mine.best, mine.out, peer.best, peer.out
            ratio = t_theirs / t_ours
            ratios.append(ratio)
            if not (spec.op.colour and x.shape[1] != 3):
                working.append(ratio)
            note = pair.why if not pair.same else ""
            if pair.same:
                k = min(args.compare, len(x))
                ref = np.stack([_array(b, x.shape[1]) for b in back[:k]])
                diff = np.abs(out[:k].numpy() - ref)
                note = f"same: max |diff| {diff.max():.4f}, mean {diff.mean():.5f}" + (
                    f" ({pair.why})" if pair.why else ""
                )
            else:
                note = f"differs: {note}"
            print(
                f"{pair.name:16} {name:16} {len(x):6d} {len(x) / t_ours:12.0f} {len(x) / t_theirs:12.0f} {ratio:8.1f}  {note}"
            )
        paired = {p.name for p in pairs(emoji)}
        for spec_name, spec in SPECS.items():  # those AugLy has no counterpart for: feint's alone
            if spec_name in paired or (args.only and spec_name not in args.only.split(",")):
                continue
            opts = {k: p.default for k, p in spec.options.items()}
            value = 0.0 if spec.strength is None else float(spec.strength.default)
            strength = torch.full((len(x),), value)

            def alone(spec=spec, opts=opts, strength=strength, xt=xt):
                return spec.op(xt, strength, Draws(0, np.arange(len(xt)), spec.name), opts)

            t_ours = best_of(args.rounds, alone)[0].best
            print(f"{spec_name:16} {name:16} {len(x):6d} {len(x) / t_ours:12.0f} {'-':>12} {'-':>8}  AugLy has none")
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(
            f"\nratio feint / AugLy: geometric mean {geo:.1f}, min {min(ratios):.1f}, max {max(ratios):.1f} over {len(ratios)} rows"
        )
        if working and len(working) < len(ratios):
            rest = float(np.exp(np.mean(np.log(working))))
            print(
                f"without the {len(ratios) - len(working)} row{'s' if len(ratios) - len(working) > 1 else ''}"
                " of a colour transformation of grey images"
                f" (feint returns them unchanged): geometric mean {rest:.1f} over {len(working)} rows"
            )
    return 0


def _array(img, channels: int) -> np.ndarray:
    """An AugLy output as channels-first floats in [0, 1], with the input's channels."""
    a = np.asarray(img.convert("RGB"), np.float32) / 255.0
    a = np.moveaxis(a, -1, 0)
    return a[:1] if channels == 1 else a


if __name__ == "__main__":
    sys.exit(main())
