"""The per-sample measures: each one a :class:`~feint.records.Measure` in :data:`MEASURES`.

A run has the measures of its target's data type (every tabular target has
``euclid_pct``) and those its attack and its target name in their ``measures``
(the Wasserstein attack names ``wasserstein``). The run engine computes them once,
where it assembles the sample results (:func:`compute`); the store keeps them with
the samples, and every report reads them from there (:func:`shown`).

A new measure is one registration::

    MEASURES.register("max_rel", Measure("max_rel", "Max rel. chg.", "the largest relative change", compute=...))

and a name in the ``measures`` of the attacks or targets that have it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from feint import textdiff
from feint.records import Measure, SampleResult, euclid_pct
from feint.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = ["MEASURES", "register", "of_run", "compute", "shown", "lookup"]

MEASURES: Registry[Measure] = Registry("measure")


def register(measure: Measure) -> Measure:
    """Register ``measure`` under its own name."""
    return MEASURES.register(measure.name, measure)


register(
    Measure(
        "euclid_pct",
        "% Euclid. dist.",
        'Counterfit\'s "% Euclidean distance": `100 * ||x_adv - x|| / ||x||` in float64, with '
        "float32's epsilon added to `||x||` so that an all-zero input gives a finite figure "
        "(Counterfit labelled the ratio a percentage without multiplying by 100; feint does)",
        fmt=".4g",
        unit="% of the input's L2 norm",
        short="% Euclid.",
        data_types=("tabular",),
        compute=euclid_pct,
        leads=True,
    )
)
register(
    Measure(
        "wasserstein",
        "Wasserstein",
        "the transport cost of the Wasserstein attack's final projection, computed by the attack: mass "
        "moved times its ground cost (by default the Euclidean distance in pixels, so the 1-Wasserstein "
        "distance)",
        fmt=".4f",
        unit="normalised mass units (the units of `eps`)",
        short="W",
    )
)

register(
    Measure(
        "strength",
        "Strength",
        "a transformation attack's strength, in the unit of its strength option (degrees, JPEG quality, "
        "sigma, ...): for a sample it turned, the strength it turned at (in search mode the smallest found); "
        "for a sample that survived, the strongest it was shown",
        fmt=".4g",
        unit="the unit of the attack's strength option",
    )
)

register(
    Measure(
        "eot_survival",
        "EOT survival",
        "a gradient attack with expectation over transformation (`eot`): the share of fresh random draws of "
        "its transformations under which the adversarial stays adversarial, computed by the attack with one "
        "forward query per draw",
        fmt=".3f",
        unit="share of the draws (0 to 1)",
        short="EOT survival",
    )
)


def l1_distance(x: Any, x_adv: Any) -> Any:
    """The L1 distance of each row, ``sum |x_adv - x|``, in float64."""
    import numpy as np

    d = np.asarray(x_adv, np.float64).reshape(len(x), -1) - np.asarray(x, np.float64).reshape(len(x), -1)
    return np.abs(d).sum(axis=1)


register(
    Measure(
        "l1",
        "L1",
        "the L1 distance `sum |x_adv - x|` in float64, for attacks whose budget is an L1 norm",
        fmt=".4f",
        unit="the input's units",
        short="L1",
        compute=l1_distance,
    )
)


def _text_measure(key: str):
    def compute(x: Any, x_adv: Any) -> list[float]:
        return textdiff.distances(list(x), list(x_adv))[key]

    return compute


register(
    Measure(
        "words_changed",
        "Words chg.",
        "the words (runs of non-whitespace) replaced, inserted or deleted, each once, by a word-level diff "
        "of the original and adversarial texts",
        fmt=".0f",
        unit="words",
        short="words changed",
        data_types=("text",),
        compute=_text_measure("words_changed"),
        leads=True,
    )
)
register(
    Measure(
        "words_changed_pct",
        "% Words chg.",
        "the words changed as a percentage of the original text's words",
        fmt=".3g",
        unit="% of the original's words",
        short="% words",
        data_types=("text",),
        compute=lambda x, x_adv: [100.0 * v for v in textdiff.distances(list(x), list(x_adv))["words_changed_share"]],
        leads=True,
    )
)
register(
    Measure(
        "char_edits",
        "Char. edits",
        "the character edit (Levenshtein) distance between the original and adversarial texts: code points "
        "inserted, deleted or substituted, an invisible character counting as one",
        fmt=".0f",
        unit="characters",
        short="char edits",
        data_types=("text",),
        compute=_text_measure("char_edits"),
        leads=True,
    )
)

register(
    Measure(
        "similarity",
        "Similarity",
        "the cosine similarity of the original and adversarial texts in the target's own representation of a "
        "text (for movie_reviews the mean of its token embeddings, for movie_reviews_blackbox its TF-IDF "
        "vector), computed by the runner from the model's weights, not counted as queries; 1 is the same text",
        fmt=".3f",
        unit="cosine, -1 to 1",
        short="similarity",
    )
)


def of_run(data_type: str, *declared: Iterable[str]) -> list[Measure]:
    """The measures of a run on a target of ``data_type``: those of the data type, then
    those named in ``declared`` (the attack's and the target's ``measures``), each once,
    in registration order. An unknown name raises :class:`~feint.errors.UnknownName`."""
    named = {name for names in declared for name in names}
    for name in sorted(named):
        MEASURES.get(name)
    return [m for _, m in MEASURES.items() if m.name in named or data_type in m.data_types]


def compute(measures: Iterable[Measure], x: Any, x_adv: Any, extras: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Each measure's values for a batch (float64, one per sample): computed from the
    original and adversarial inputs, or, for a measure the attack computes, taken from
    its ``extras``; a measure the attack did not report is left out."""
    import numpy as np

    out: dict[str, np.ndarray] = {}
    for m in measures:
        if m.compute is not None:
            values = m.compute(x, x_adv)
        elif m.name in extras:
            values = extras[m.name]
        else:
            continue
        values = np.asarray(values, np.float64).reshape(-1)
        if len(values) != len(x):
            raise ValueError(f"measure {m.name!r} gave {len(values)} values for {len(x)} samples")
        out[m.name] = values
    return out


def lookup(name: str) -> Measure:
    """The registered measure ``name``; a stored measure this feint does not know (its
    module is not imported here) is shown under its name, with four significant digits."""
    return MEASURES.get(name) if name in MEASURES else Measure(name, name, "")


def shown(samples: Iterable[SampleResult]) -> list[Measure]:
    """The measures some of ``samples`` have, registered ones in registration order, then
    others in the order they are first met."""
    names = list(dict.fromkeys(n for s in samples for n in s.measures))
    known = [m for n, m in MEASURES.items() if n in names]
    return known + [lookup(n) for n in names if n not in MEASURES]
