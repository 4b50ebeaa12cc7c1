"""What a run and a scan produce: plain records, the same whether fresh or re-read from the store."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SampleResult", "RunResult", "ScanResult"]


@dataclass
class SampleResult:
    index: int
    initial_label: str
    initial_conf: float
    final_label: str
    final_conf: float
    success: bool
    linf: float
    l2: float
    l0: int
    forward_queries: int
    gradient_queries: int
    true_label: str | None = None
    target_label: str | None = None
    wasserstein: float | None = None
    images: dict[str, str] = field(default_factory=dict)  # original, adversarial, perturbation PNGs

    @property
    def queries(self) -> int:
        return self.forward_queries + self.gradient_queries

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["wasserstein"] is None:
            del d["wasserstein"]
        return d


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
