"""An ART attack's options, read from the attack itself.

Types and defaults come from the signature of the ART class's ``__init__`` (or of the
method that takes them, such as an extraction's ``extract``), docs from its docstring's
``:param name:`` lines, so neither can drift from the installed ART. What a signature
cannot say (the valid range of a number, the words a string accepts) is written here,
next to it, from what ART's ``_check_params`` enforces; a test holds every default
inside its range and checks that ART accepts every range.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from feint.attacks.params import Bool, Choice, Float, Int, Param
from feint.errors import BadValue

__all__ = ["OptionalNumber", "introspect", "art_value", "docs_of", "first_sentence", "paper_link", "SKIPPED"]

# Arguments feint supplies itself or that no command line can hold.
SKIPPED = frozenset(
    {
        "self",
        "classifier",
        "estimator",
        "verbose",
        "batch_size",
        "summary_writer",
        "adv_criterion",
        "loss",
        "attacker_params",
        "mask",
        "x",
        "y",
        "kwargs",
        "num_neurons",
    }
)

_INF = "inf"


@dataclass(frozen=True)
class OptionalNumber(Param):
    """A number, or ``none`` where the attack reads "no value" as a choice of its own
    (PixelAttack's ``th=None`` searches the smallest threshold)."""

    integer: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False

    @property
    def type_name(self) -> str:  # type: ignore[override]
        return ("an integer" if self.integer else "a number") + " or none"

    def _inner(self) -> Param:
        kind = Int if self.integer else Float
        return kind(0, self.doc, name=self.name, low=self.low, high=self.high, low_open=self.low_open)

    def range_text(self) -> str:
        return self._inner().range_text()

    def parse(self, text: str) -> Any:
        if str(text).strip().lower() in ("none", "null", ""):
            return None
        try:
            return self._inner().parse(text)
        except BadValue:
            raise self.fail(text) from None

    def validate(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return self.parse(value)
        try:
            return self._inner().validate(value)
        except BadValue:
            raise self.fail(value) from None

    def show(self, value: Any) -> str:
        return "none" if value is None else (str(value) if self.integer else f"{value:g}")


# Per parameter name: the range ART enforces (or a sensible one where ART enforces none),
# as keyword arguments of the Param. Per (ART class, name) entries override.
RANGES: dict[Any, dict[str, Any]] = {
    "max_iter": dict(low=1, high=1_000_000),
    "eps": dict(low=0, low_open=True),
    "eps_step": dict(low=0, low_open=True),
    "epsilon": dict(low=0),
    "delta": dict(low=0, low_open=True),
    "step_adapt": dict(low=0, high=1, low_open=True, high_open=True),
    "num_trial": dict(low=0, high=100_000),
    "sample_size": dict(low=1, high=100_000),
    "init_size": dict(low=1, high=1_000_000),
    "min_epsilon": dict(low=0),
    "confidence": dict(low=0),
    "learning_rate": dict(low=0, low_open=True),
    "binary_search_steps": dict(low=0, high=1000),
    "initial_const": dict(low=0),
    "max_halving": dict(low=1, high=1000),
    "max_doubling": dict(low=1, high=1000),
    "decrease_factor": dict(low=0, high=1, low_open=True, high_open=True),
    "largest_const": dict(low=0),
    "const_factor": dict(low=1, low_open=True),
    "nb_grads": dict(low=1, high=100_000),
    "beta": dict(low=0),
    "num_random_init": dict(low=0, high=1000),
    "decay": dict(low=0),
    "max_eval": dict(low=1, high=10_000_000),
    "init_eval": dict(low=1, high=10_000_000),
    "eta": dict(low=0, low_open=True),
    "th": dict(low=1, high=1_000_000),
    "es": dict(low=0, high=1),
    "theta": dict(low=-1e6, high=1e6),
    "gamma": dict(low=0, high=1, low_open=True),
    "freq_dim": dict(low=1, high=100_000),
    "stride": dict(low=1, high=100_000),
    "max_translation": dict(low=0, high=100),
    "num_translations": dict(low=1, high=10_000),
    "max_rotation": dict(low=0, high=180),
    "num_rotations": dict(low=1, high=10_000),
    "p_init": dict(low=0, high=1, low_open=True, high_open=True),
    "nb_restarts": dict(low=1, high=10_000),
    "finite_diff": dict(low=0, low_open=True),
    "regularization": dict(low=0, low_open=True),
    "p": dict(low=1, high=100),
    "kernel_size": dict(low=1, high=1001),
    "eps_iter": dict(low=1, high=100_000),
    "eps_factor": dict(low=1, low_open=True),
    "conjugate_sinkhorn_max_iter": dict(low=1, high=1_000_000),
    "projected_sinkhorn_max_iter": dict(low=1, high=1_000_000),
    "nb_parallel": dict(low=1, high=100_000),
    "variable_h": dict(low=0, low_open=True),
    "offset": dict(low=0, low_open=True),
    "batch_size_fit": dict(low=1, high=100_000),
    "batch_size_query": dict(low=1, high=100_000),
    "nb_epochs": dict(low=1, high=100_000),
    "nb_stolen": dict(low=1, high=10_000_000),
    "window_length": dict(low=1, high=1_000_000),
    "threshold": dict(low=0, high=1),
    ("SignOPTAttack", "query_limit"): dict(low=1, high=1_000_000_000),
    ("SignOPTAttack", "k"): dict(low=1, high=100_000),
    ("SignOPTAttack", "alpha"): dict(low=0, low_open=True),
    ("SignOPTAttack", "epsilon"): dict(low=0, low_open=True),
    ("SignOPTAttack", "beta"): dict(low=0, low_open=True),
    ("SignOPTAttack", "num_trial"): dict(low=1, high=100_000),
    # FunctionallyEquivalentExtraction.extract
    "delta_0": dict(low=0, low_open=True),
    "fraction_true": dict(low=0, high=1, low_open=True),
    "rel_diff_slope": dict(low=0, low_open=True),
    "rel_diff_value": dict(low=0, low_open=True),
    "delta_init_value": dict(low=0, low_open=True),
    "delta_value_max": dict(low=1, high=1_000_000),
    "d2_min": dict(low=0, low_open=True),
    "d_step": dict(low=0, low_open=True),
    "delta_sign": dict(low=0, low_open=True),
    "unit_vector_scale": dict(low=1, high=10**9),
    "ftol": dict(low=0, low_open=True),
    # Where one attack's name means something else than another's.
    ("BoundaryAttack", "max_iter"): dict(low=0, high=1_000_000),
    ("BoundaryAttack", "epsilon"): dict(low=0, low_open=True),
    ("UniversalPerturbation", "delta"): dict(low=0, high=1),
    ("MIFace", "max_iter"): dict(low=0, high=1_000_000),
    ("MIFace", "learning_rate"): dict(low=0),
}

# String (and norm) parameters: the words they accept, as ART spells them.
CHOICES: dict[Any, tuple[Any, ...]] = {
    ("FastGradientMethod", "norm"): (np.inf, 1, 2),
    ("ProjectedGradientDescent", "norm"): (np.inf, 1, 2),
    ("HopSkipJump", "norm"): (2, np.inf),
    ("SquareAttack", "norm"): (np.inf, 1, 2),
    ("UniversalPerturbation", "norm"): (np.inf, 2),
    ("Wasserstein", "norm"): ("wasserstein", "inf", "1", "2"),
    ("Wasserstein", "ball"): ("wasserstein", "inf", "1", "2"),
    ("ElasticNet", "decision_rule"): ("EN", "L1", "L2"),
    ("SimBA", "attack"): ("dct", "px"),
    ("SimBA", "order"): ("random", "diag"),
    ("KnockoffNets", "sampling_strategy"): ("random", "adaptive"),
    ("KnockoffNets", "reward"): ("all", "cert", "div", "loss"),
    # UniversalPerturbation's attacker: read from the class (its attacks_dict), see below.
}


def _word(value: Any) -> str:
    if isinstance(value, float) and math.isinf(value):
        return _INF
    return str(value).lower()


def art_value(words: tuple[Any, ...] | None, value: Any) -> Any:
    """The value ART expects for a feint option value: the original of a chosen word
    (``"inf"`` -> ``np.inf``, ``"en"`` -> ``"EN"``), or the value itself."""
    for original in words or ():
        if _word(original) == value:
            return original
    return value


def first_sentence(doc: str | None) -> str:
    """The first sentence of a docstring, on one line."""
    text = " ".join((doc or "").split("| Paper link")[0].split())
    m = re.match(r"(.+?\.)(\s|$)", text)
    return (m.group(1) if m else text).strip()


def paper_link(doc: str | None) -> str:
    m = re.search(r"Paper link:\s*(\S+)", doc or "")
    return m.group(1) if m else ""


def docs_of(function: Callable) -> dict[str, str]:
    """``:param name: text`` of a docstring, continuation lines joined."""
    out: dict[str, str] = {}
    name = None
    for line in (inspect.getdoc(function) or "").splitlines():
        m = re.match(r"\s*:param (\w+):\s*(.*)", line)
        if m:
            name, text = m.group(1), m.group(2)
            out[name] = text.strip()
        elif name and line.strip() and not line.strip().startswith(":"):
            out[name] += " " + line.strip()
        else:
            name = None
    return out


def init_of(cls: type) -> Callable[..., Any]:
    """The ``__init__`` a class's instances run: the first in its method resolution order."""
    return next(vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k))


def introspect(
    art_class: type,
    function: Callable | None = None,
    choices: dict[str, tuple[Any, ...]] | None = None,
    defaults: dict[str, Any] | None = None,
) -> tuple[dict[str, Param], dict[str, tuple[Any, ...]]]:
    """Typed feint parameters for the arguments of ``function`` (default: the class's
    ``__init__``), in signature order, and for string arguments the words ART accepts
    as ART spells them. ``choices`` adds accepted words; ``defaults`` replaces a default
    that cannot work in feint (the doc then says ART's own)."""
    function = function or init_of(art_class)
    cls_name = art_class.__name__
    docs = docs_of(function)
    params: dict[str, Param] = {}
    words_of: dict[str, tuple[Any, ...]] = {}
    for name, arg in inspect.signature(function).parameters.items():
        if name in SKIPPED or arg.kind in (arg.VAR_KEYWORD, arg.VAR_POSITIONAL) or arg.default is arg.empty:
            continue
        annotation = str(arg.annotation)
        default = arg.default
        doc = docs.get(name, name.replace("_", " "))
        if defaults and name in defaults:
            doc = f"{doc} (ART's default: {_word(default)})"
            default = defaults[name]
        rng = dict(RANGES.get((cls_name, name), RANGES.get(name, {})))
        words = (choices or {}).get(name) or CHOICES.get((cls_name, name))
        spec: Param
        if words is not None:
            words_of[name] = tuple(words)
            aliases = {"np.inf": _INF, "linf": _INF, "l2": "2", "l1": "1"} if name == "norm" else {}
            spec = Choice(_word(default), doc, name=name, choices=tuple(_word(w) for w in words), aliases=aliases)
        elif isinstance(default, bool):
            spec = Bool(default, doc, name=name)
        elif default is None and ("int" in annotation or "float" in annotation):
            spec = OptionalNumber(None, doc, name=name, integer="float" not in annotation, **rng)
        elif "float" in annotation or isinstance(default, float):
            spec = Float(float(default), doc, name=name, **rng)
        elif "int" in annotation:
            spec = Int(int(default), doc, name=name, **rng)
        else:  # a type no command line can hold
            continue
        params[name] = spec
    return params, words_of
