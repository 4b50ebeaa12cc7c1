"""What a run and a scan produce: plain records, the same whether fresh or re-read from the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "SampleResult",
    "RunResult",
    "ScanResult",
    "Measure",
    "euclid_pct",
    "RUN_PARAMS",
    "show_value",
    "labelled",
    "shown_params",
]

# The options every attack has that shape a run rather than the attack (its samples, seed,
# query logger and batch size): declared once here, for attacks, plans and reports alike.
RUN_PARAMS = ("sample_index", "seed", "logger", "batch_size")


def labelled(label: str, conf: float | None) -> str:
    """A label with its confidence, ``7 (0.9876)``; the label alone where the target told
    none (labels only)."""
    return label if conf is None else f"{label} ({conf:.4f})"


def show_value(value: Any) -> str:
    """A stored option value as a person reads it, as the option's own display does:
    numbers as ``%g``, class labels comma-joined (``-`` when none); a store written by an
    older feint holds display text already, shown as it is."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value) if value else "-"
    return str(value)


def shown_params(params: dict[str, Any]) -> dict[str, str]:
    """A run's stored option values as display text (see :func:`show_value`)."""
    return {k: show_value(v) for k, v in params.items()}


def euclid_pct(x: Any, x_adv: Any) -> Any:
    """Counterfit's "% Euclidean distance" of each row: ``100 * ||x_adv - x|| / ||x||``, in
    float64, with float32's epsilon added to ``||x||`` (as Counterfit does) so that an
    all-zero input gives a finite figure. Counterfit labels the ratio "%" but prints it
    unscaled; feint multiplies by 100."""
    import numpy as np

    x = np.asarray(x, np.float64).reshape(len(x), -1)
    d = np.asarray(x_adv, np.float64).reshape(len(x), -1) - x
    return 100.0 * np.linalg.norm(d, axis=1) / (np.linalg.norm(x, axis=1) + np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Measure:
    """A per-sample measure: one float per sample, stored with the sample's result and
    shown by every report beside the distances.

    ``name`` is the measure's key in a sample's JSON and in the store; ``label`` heads its
    column in a run's tables, ``short`` names it in running text (the HTML report's sample
    cards); values are shown with the format spec ``fmt``; ``unit`` and ``doc`` say what a
    value is. A target of one of ``data_types`` has the measure whatever its class; other
    targets and attacks have it when they name it in their ``measures``. ``compute`` maps
    a batch of original and adversarial inputs (arrays of the same shape, a sample a row)
    to one value per sample; a measure without it is reported by the attack itself, per
    sample, under its name in ``AttackOutput.extras``. ``leads``: the run's console table
    shows it before the Lp distances (where Counterfit's table had its % Euclidean distance).
    """

    name: str
    label: str
    doc: str
    fmt: str = ".4g"
    unit: str = ""
    short: str = ""
    data_types: tuple[str, ...] = ()
    compute: Callable[[Any, Any], Any] | None = None
    leads: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name in _SAMPLE_KEYS:
            raise ValueError(
                f"measure name {self.name!r}: expected an identifier that is not a sample result's own key "
                f"({', '.join(sorted(_SAMPLE_KEYS))})"
            )
        if not self.short:
            object.__setattr__(self, "short", self.label)

    def show(self, value: float | None) -> str:
        """A value as the reports print it (``-`` for none)."""
        return "-" if value is None else format(value, self.fmt)


@dataclass
class SampleResult:
    index: int
    initial_label: str
    initial_conf: float | None  # None: the target answers labels only
    final_label: str
    final_conf: float | None
    success: bool
    linf: float
    l2: float
    l0: int
    forward_queries: int
    gradient_queries: int
    true_label: str | None = None
    target_label: str | None = None
    images: dict[str, str] = field(default_factory=dict)  # original, adversarial, perturbation PNGs
    # The sample's declared measures by name (see Measure and feint.measures), as stored.
    measures: dict[str, float] = field(default_factory=dict)
    # Why the attack could not work on the sample, where it says (no adversarial start,
    # a class it cannot reach, the sample returned unchanged), else None.
    note: str | None = None
    # A text sample's original and adversarial text ({"original": ..., "adversarial": ...});
    # kept in the run's artifacts folder, not in the store's columns. None for other data.
    text: dict[str, str] | None = None

    @property
    def queries(self) -> int:
        return self.forward_queries + self.gradient_queries

    @property
    def wasserstein(self) -> float | None:
        """The Wasserstein attack's transport cost, where the run has it."""
        return self.measures.get("wasserstein")

    @property
    def euclid_pct(self) -> float | None:
        """Tabular targets: Counterfit's "% Euclidean distance", 100 * L2 / ||x|| (see euclid_pct)."""
        return self.measures.get("euclid_pct")

    def to_dict(self) -> dict[str, Any]:
        """The sample's JSON: its fields, with each measure as a key of its own."""
        d = asdict(self)
        d.update(d.pop("measures"))
        if d["text"] is None:  # only text samples have it
            del d["text"]
        return d


# The keys of a sample's JSON that are not measures, with those a JSON Lines record adds
# (its run's context and "queries"): a measure's name must differ from each.
_SAMPLE_KEYS = frozenset(f.name for f in fields(SampleResult)) - {"measures"} | {
    "queries",
    "schema",
    "kind",
    "scan_id",
    "run_id",
    "target",
    "attack",
    "framework",
    "family",
    "params",
    "seed",
}


@dataclass
class RunResult:
    run_id: str
    attack: str
    framework: str
    target: str
    params: dict[str, Any]
    seed: int
    started_at: str
    elapsed_s: float
    samples: list[SampleResult]
    scan_id: str | None = None
    # done, or partial: a scan's run with some of its units stored (a budget or a stop
    # ended the scan first); its samples are those of the finished units
    status: str = "done"
    artifacts: str | None = None  # folder with adversarial.npy and images
    family: str = "evasion"  # evasion, extraction or inference
    # Run-level measures in the family's own terms (an extraction's fidelity, an inference's
    # rates) and the queries no sample can own: unattributed_forward_queries and
    # unattributed_gradient_queries, which the totals below include.
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def successes(self) -> int:
        return sum(s.success for s in self.samples)

    @property
    def success_rate(self) -> float:
        return self.successes / self.n if self.n else 0.0

    @property
    def forward_queries(self) -> int:
        return sum(s.forward_queries for s in self.samples) + int(self.metrics.get("unattributed_forward_queries", 0))

    @property
    def gradient_queries(self) -> int:
        return sum(s.gradient_queries for s in self.samples) + int(self.metrics.get("unattributed_gradient_queries", 0))

    @property
    def queries(self) -> int:
        return self.forward_queries + self.gradient_queries

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "scan_id": self.scan_id,
            "target": self.target,
            "attack": self.attack,
            "framework": self.framework,
            "family": self.family,
            "params": self.params,
            "seed": self.seed,
            "started_at": self.started_at,
            "elapsed_s": self.elapsed_s,
            "status": self.status,
            "n": self.n,
            "successes": self.successes,
            "success_rate": self.success_rate,
            "forward_queries": self.forward_queries,
            "gradient_queries": self.gradient_queries,
            "metrics": self.metrics,
            "artifacts": self.artifacts,
            "samples": [s.to_dict() for s in self.samples],
        }


@dataclass
class ScanResult:
    scan_id: str
    target: str
    started_at: str
    runs: list[RunResult]
    settings: dict[str, Any] = field(default_factory=dict)
    target_info: dict[str, Any] = field(default_factory=dict)
