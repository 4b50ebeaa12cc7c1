"""The transformations, one row each: what the strength is, where it starts and ends,
the other options, and, for those ImageNet-C has, the settings of its five severities.

The severities are those of CIFAR-10-C (Hendrycks and Dietterich 2019, the constants of
its ``make_cifar_c.py``, written for 32 x 32 images like feint's targets), on the
parameter the transformation has; where ImageNet-C takes two numbers (defocus blur's
radius and alias blur, motion blur's radius and spread) both are options here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from feint.attacks.params import Choice, Float, Int, Param
from feint.attacks.transforms import ops
from feint.attacks.transforms.ops import Op

__all__ = ["Strength", "Spec", "SPECS", "spec"]


@dataclass(frozen=True)
class Strength:
    """A transformation's strength: the option ``param`` in ``unit``, from ``weakest``
    (no change, or the least there is) towards ``default`` (applied in fixed mode, the far
    end of the search), within ``[low, high]``."""

    param: str
    doc: str
    unit: str
    weakest: float
    default: float
    low: float
    high: float
    integer: bool = False
    log: bool = False  # searched on a log scale (photons)
    signed: bool = False  # expectation over transformation draws in [-v, v]

    def option(self) -> Param:
        kind = Int if self.integer else Float
        default = int(self.default) if self.integer else self.default
        doc = f"{self.doc} ({self.unit}; {_num(self.weakest)} changes nothing): applied in fixed mode, the most the search tries"
        return kind(default, doc, low=self.low, high=self.high)


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


@dataclass(frozen=True)
class Spec:
    name: str
    summary: str
    op: Op
    strength: Strength | None
    options: dict[str, Param] = field(default_factory=dict)
    severities: tuple[dict[str, Any], ...] = ()
    corruption: str = ""  # its name in the corruption suite
    imagenet_c: bool = True  # the suite's family is ImageNet-C's (else feint's own, its severities feint's)


class Text(Param[str]):
    """Free text: printable, at most 200 characters."""

    type_name = "text of at most 200 printable characters"

    def validate(self, value: Any) -> str:
        if not isinstance(value, str) or len(value) > 200 or not value.isprintable():
            raise self.fail(value)
        return value


FILL = Float(
    0.0, "level of the border that the image no longer covers (0: the lower bound, 1: the upper)", low=0, high=1
)
COLOUR = Float(1.0, "grey level of the overlay (0: the lower bound, 1: the upper)", low=0, high=1)
OPACITY = Float(1.0, "opacity of the overlay", low=0, high=1)


def _sev(param: str, values: list[Any], **fixed: Any) -> tuple[dict[str, Any], ...]:
    return tuple({param: v, **fixed} for v in values)


SPECS: dict[str, Spec] = {
    s.name: s
    for s in [
        Spec(
            "blur",
            "Gaussian blur (AugLy's blur; ImageNet-C's gaussian_blur)",
            Op(ops.blur),
            Strength("sigma", "standard deviation of the Gaussian", "pixels", 0.0, 3.0, 0.0, 50.0),
            severities=_sev("sigma", [0.4, 0.6, 0.7, 0.8, 1.0]),
            corruption="gaussian_blur",
        ),
        Spec(
            "defocus_blur",
            "Defocus blur: a disk kernel, then a slight Gaussian (ImageNet-C's defocus_blur)",
            Op(ops.defocus_blur),
            Strength("radius", "radius of the disk", "pixels", 0.0, 3.0, 0.0, 20.0),
            {"alias_sigma": Float(0.5, "the Gaussian blur after the disk, in pixels (0: none)", low=0, high=10)},
            severities=tuple(
                {"radius": r, "alias_sigma": a} for r, a in [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)]
            ),
            corruption="defocus_blur",
        ),
        Spec(
            "motion_blur",
            "Motion blur: a streak at a random angle per sample (ImageNet-C's motion_blur)",
            Op(ops.motion_blur),
            Strength("sigma", "spread of the streak's weights along it", "pixels", 0.0, 3.0, 0.0, 50.0),
            {"radius": Int(10, "length of the streak in pixels (cut to the image)", low=1, high=100)},
            severities=tuple({"sigma": s, "radius": r} for r, s in [(10, 1), (10, 1.5), (10, 2), (10, 2.5), (12, 3)]),
            corruption="motion_blur",
        ),
        Spec(
            "zoom_blur",
            "Zoom blur: the mean of the image zoomed by 1, 1.01, ... (ImageNet-C's zoom_blur)",
            Op(ops.zoom_blur),
            Strength("zoom", "the largest zoom averaged", "times", 1.0, 1.3, 1.0, 3.0),
            severities=_sev("zoom", [1.05, 1.10, 1.15, 1.20, 1.25]),
            corruption="zoom_blur",
        ),
        Spec(
            "glass_blur",
            "Glass blur: blur, pixels moved to random neighbours, blur again (ImageNet-C's glass_blur, batched)",
            Op(ops.glass_blur),
            Strength("sigma", "standard deviation of both blurs", "pixels", 0.0, 1.0, 0.0, 20.0),
            {
                "delta": Int(1, "farthest a pixel moves, in pixels", low=1, high=20),
                "iterations": Int(1, "rounds of moves", low=1, high=10),
            },
            severities=tuple(
                {"sigma": s, "delta": m, "iterations": i}
                for s, m, i in [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)]
            ),
            corruption="glass_blur",
        ),
        Spec(
            "elastic",
            "Elastic transform: a small random affine map, then pixels displaced by smooth random noise (ImageNet-C's elastic_transform)",
            Op(ops.elastic),
            Strength("alpha", "largest displacement by the noise", "share of the side", 0.0, 0.1, 0.0, 2.0),
            {
                "sigma": Float(
                    0.05, "smoothness of the noise: its Gaussian's width, as a share of the side", low=0, high=1
                ),
                "affine": Float(0.0, "largest move of the affine map's points, as a share of the side", low=0, high=1),
            },
            severities=tuple(
                {"alpha": a, "sigma": g, "affine": f}
                for a, g, f in [
                    (0, 0, 0.08),
                    (0.05, 0.2, 0.07),
                    (0.08, 0.06, 0.06),
                    (0.1, 0.04, 0.05),
                    (0.1, 0.03, 0.03),
                ]
            ),
            corruption="elastic_transform",
        ),
        Spec(
            "fog",
            "Fog: a fractal cloud laid over the image (ImageNet-C's fog, with fractal value noise for its plasma)",
            Op(ops.fog),
            Strength("amount", "weight of the cloud", "share of the range", 0.0, 1.0, 0.0, 10.0),
            {
                "decay": Float(
                    2.0, "how much weaker each finer octave of the cloud is (larger: smoother)", low=1.01, high=10
                )
            },
            severities=tuple(
                {"amount": a, "decay": w} for a, w in [(0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)]
            ),
            corruption="fog",
        ),
        Spec(
            "snow",
            "Snow: streaked flakes laid over a whitened image (ImageNet-C's snow)",
            Op(ops.snow),
            Strength("amount", "snow laid over the image", "share of ImageNet-C's", 0.0, 1.0, 0.0, 2.0),
            {
                "mean": Float(0.1, "mean of the flakes' normal field", low=-1, high=1),
                "spread": Float(0.3, "standard deviation of the flakes' normal field", low=0, high=2),
                "zoom": Float(1.0, "zoom of the flakes' field about the centre", low=1, high=10),
                "threshold": Float(0.6, "flakes below this level are dropped", low=0, high=1),
                "radius": Int(10, "length of the flakes' streaks in pixels (cut to the image)", low=1, high=100),
                "sigma": Float(4.0, "spread of the streaks' weights along them, in pixels", low=0.1, high=50),
                "keep": Float(0.85, "share of the image kept as it is when whitening", low=0, high=1),
            },
            severities=tuple(
                {"amount": 1.0, "mean": m, "spread": v, "zoom": z, "threshold": t, "radius": r, "sigma": g, "keep": k}
                for m, v, z, t, r, g, k in [
                    (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
                    (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
                    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
                    (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
                    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
                ]
            ),
            corruption="snow",
        ),
        Spec(
            "frost",
            "Frost: an ice texture added to the image (ImageNet-C's frost, the ice drawn procedurally)",
            Op(ops.frost),
            Strength("amount", "weight of the ice", "share of the range", 0.0, 0.4, 0.0, 2.0),
            {"keep": Float(1.0, "weight of the image", low=0, high=1)},
            severities=tuple(
                {"amount": a, "keep": k} for k, a in [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)]
            ),
            corruption="frost",
        ),
        Spec(
            "brightness",
            "Brightness: scale every value, then optionally shift the HSV value (ImageNet-C's brightness)",
            Op(ops.brightness),
            Strength("factor", "factor every value is multiplied by", "times", 1.0, 3.0, 0.0, 20.0),
            {"shift": Float(0.0, "added to the HSV value after the factor (ImageNet-C's brightness)", low=-1, high=1)},
            severities=tuple({"factor": 1.0, "shift": c} for c in [0.05, 0.1, 0.15, 0.2, 0.3]),
            corruption="brightness",
        ),
        Spec(
            "contrast",
            "Contrast: blend with the image's mean grey (Pillow's and AugLy's contrast; ImageNet-C's contrast)",
            Op(ops.contrast),
            Strength("factor", "blend factor (0: flat grey, above 1: more contrast)", "times", 1.0, 0.0, 0.0, 20.0),
            severities=_sev("factor", [0.75, 0.5, 0.4, 0.3, 0.15]),
            corruption="contrast",
        ),
        Spec(
            "saturation",
            "Saturation: blend with the grey image (Pillow's and AugLy's saturation)",
            Op(ops.saturation, colour=True),
            Strength("factor", "blend factor (0: grey, above 1: more colour)", "times", 1.0, 0.0, 0.0, 20.0),
        ),
        Spec(
            "sharpen",
            "Sharpen: blend with a smoothed copy (Pillow's and AugLy's sharpen)",
            Op(ops.sharpen),
            Strength("factor", "blend factor (0: smoothed, above 1: sharper)", "times", 1.0, 10.0, 0.0, 100.0),
        ),
        Spec(
            "colour_jitter",
            "Colour jitter: brightness, contrast, saturation and hue each moved by a random share of the amount",
            Op(ops.colour_jitter),
            Strength(
                "amount", "largest relative change of each (hue: a quarter turn at 1)", "fraction", 0.0, 0.5, 0.0, 1.0
            ),
        ),
        Spec(
            "grayscale",
            "Grayscale: blend towards the grey image",
            Op(ops.grayscale, colour=True),
            Strength("amount", "share of grey", "fraction", 0.0, 1.0, 0.0, 1.0),
        ),
        Spec(
            "opacity",
            "Opacity: blend towards a flat background",
            Op(ops.opacity),
            Strength("level", "opacity of the image over the background", "fraction", 1.0, 0.0, 0.0, 1.0),
            {"background": Float(0.0, "level of the background (0: the lower bound, 1: the upper)", low=0, high=1)},
        ),
        Spec(
            "rotate",
            "Rotation about the centre (as kornia's rotate), the corners filled with the lower bound",
            Op(ops.rotate),
            Strength("degrees", "angle, counter-clockwise", "degrees", 0.0, 45.0, -360.0, 360.0, signed=True),
            severities=_sev("degrees", [5, 10, 15, 20, 25]),
            corruption="rotate",
            imagenet_c=False,
        ),
        Spec(
            "scale",
            "Scaling about the centre, the size kept (below 1 shrinks inside a border, above 1 zooms in)",
            Op(ops.scale),
            Strength("factor", "scale factor", "times", 1.0, 0.5, 0.05, 10.0, log=True),
            {"fill": FILL},
        ),
        Spec(
            "crop",
            "Crop a window at a random place per sample and resize it back to the full size",
            Op(ops.crop),
            Strength("fraction", "share of each side cut away", "fraction", 0.0, 0.5, 0.0, 0.95),
        ),
        Spec(
            "pad",
            "Pad each side and resize back to the size (AugLy's pad, the size kept)",
            Op(ops.pad),
            Strength("fraction", "border added on each side, as a share of the side", "fraction", 0.0, 0.5, 0.0, 10.0),
            {"fill": FILL},
        ),
        Spec(
            "perspective",
            "Perspective: each corner moved by a random normal offset per sample (by kornia)",
            Op(ops.perspective),
            Strength("sigma", "standard deviation of the corners' offsets", "share of the side", 0.0, 0.1, 0.0, 1.0),
        ),
        Spec(
            "shear",
            "Horizontal shear about the centre",
            Op(ops.shear),
            Strength("factor", "horizontal shift per unit of height", "shear factor", 0.0, 0.5, -5.0, 5.0, signed=True),
            {"fill": FILL},
        ),
        Spec(
            "flip",
            "Mirror the image",
            Op(ops.flip),
            None,
            {"direction": Choice("horizontal", "which way", choices=("horizontal", "vertical"))},
        ),
        Spec(
            "pixelate",
            "Pixelisation: shrink by area averaging, then enlarge back (AugLy's pixelization; ImageNet-C's pixelate)",
            Op(ops.pixelate),
            Strength("ratio", "side of the shrunken image as a share of the side", "fraction", 1.0, 0.1, 0.01, 1.0),
            severities=_sev("ratio", [0.95, 0.9, 0.85, 0.75, 0.65]),
            corruption="pixelate",
        ),
        Spec(
            "jpeg",
            "JPEG compression at a quality, libjpeg's integer codec to the bit, as a server re-encodes (AugLy's encoding_quality; ImageNet-C's jpeg_compression)",
            Op(ops.jpeg, differentiable=False),
            Strength("quality", "JPEG quality", "quality", 100, 10, 1, 100, integer=True),
            severities=_sev("quality", [80, 65, 58, 50, 40]),
            corruption="jpeg_compression",
        ),
        Spec(
            "gaussian_noise",
            "Additive Gaussian noise (AugLy's random_noise; ImageNet-C's gaussian_noise)",
            Op(ops.gaussian_noise),
            Strength("sigma", "standard deviation", "share of the range", 0.0, 0.5, 0.0, 10.0),
            severities=_sev("sigma", [0.04, 0.06, 0.08, 0.09, 0.10]),
            corruption="gaussian_noise",
        ),
        Spec(
            "shot_noise",
            "Poisson (shot) noise: values counted in photons (ImageNet-C's shot_noise)",
            Op(ops.shot_noise, differentiable=False),
            Strength("photons", "photons at the upper bound (fewer: noisier)", "photons", 10_000, 10, 1, 1e6, log=True),
            severities=_sev("photons", [500, 250, 100, 75, 50]),
            corruption="shot_noise",
        ),
        Spec(
            "speckle_noise",
            "Multiplicative Gaussian (speckle) noise (ImageNet-C's speckle_noise)",
            Op(ops.speckle_noise),
            Strength("sigma", "standard deviation of the factor", "share of the value", 0.0, 1.0, 0.0, 10.0),
            severities=_sev("sigma", [0.06, 0.1, 0.12, 0.16, 0.2]),
            corruption="speckle_noise",
        ),
        Spec(
            "salt_pepper",
            "Salt-and-pepper noise: values set to the lower or upper bound (ImageNet-C's impulse_noise)",
            Op(ops.salt_pepper),
            Strength("amount", "share of the values replaced", "fraction", 0.0, 0.5, 0.0, 1.0),
            severities=_sev("amount", [0.01, 0.02, 0.03, 0.05, 0.07]),
            corruption="impulse_noise",
        ),
        Spec(
            "shuffle_pixels",
            "Random pixel shuffle: a share of the pixels trade places (AugLy's shuffle_pixels)",
            Op(ops.shuffle_pixels),
            Strength("fraction", "share of the pixels moved", "fraction", 0.0, 0.5, 0.0, 1.0),
        ),
        Spec(
            "overlay_text",
            "Overlay text at a random place per sample (whole pixels), in Pillow's bundled font (AugLy's overlay_text)",
            Op(ops.overlay_text),
            Strength("size", "font size", "share of the height", 0.0, 0.5, 0.0, 2.0),
            {"text": Text("feint", "the text laid over the image"), "colour": COLOUR, "opacity": OPACITY},
        ),
        Spec(
            "overlay_stripes",
            "Overlay stripes (AugLy's overlay_stripes)",
            Op(ops.overlay_stripes),
            Strength("width", "share of each stripe's period it covers", "fraction", 0.0, 0.5, 0.0, 1.0),
            {
                "density": Float(5.0, "stripes across the image", low=0.5, high=100),
                "angle": Float(0.0, "angle of the stripes in degrees (0: horizontal)", low=-360, high=360),
                "colour": COLOUR,
                "opacity": OPACITY,
            },
        ),
        Spec(
            "overlay_image",
            "Overlay an emoji or a photograph from a bundled set at a random place per sample (AugLy's overlay_emoji)",
            Op(ops.overlay_image),
            Strength("size", "side of the overlay", "share of the side", 0.0, 0.5, 0.0, 1.0),
            {
                "image": Choice(
                    "smiley",
                    "what is laid over: smiley and heart are drawn by feint; astronaut, chelsea and coffee are scikit-image's photographs",
                    choices=ops.IMAGES,
                ),
                "opacity": OPACITY,
            },
        ),
    ]
}


def spec(name: str) -> Spec:
    """The transformation ``name`` (``rotate`` or ``transforms.rotate``)."""
    from feint.errors import UnknownName

    key = name.strip().removeprefix("transforms.")
    if key not in SPECS:
        raise UnknownName("transformation", name, sorted(SPECS))
    return SPECS[key]
