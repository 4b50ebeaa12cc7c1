"""A scan's budget: the most model queries and wall time one invocation may spend.

The budget is checked before each unit starts, against what the units finished so far
spent: once it is reached no new unit starts, the units already running finish, and the
scan stops with status ``budget`` (a resume continues it, with a budget of its own).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from feint.errors import ParamError

__all__ = ["Budget", "MAX_QUERIES", "MAX_SECONDS", "MAX_CHUNK_SIZE"]

MAX_CHUNK_SIZE = 10**7  # samples per unit of a scan, at most (as many as a run may have)
MAX_QUERIES = 10**15  # the largest max_queries
MAX_SECONDS = 365 * 24 * 3600  # the longest max_time: a year


@dataclass
class Budget:
    max_queries: int | None = None
    max_time: float | None = None  # seconds
    queries: int = 0  # spent by the units finished so far
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.max_queries is not None and not 1 <= self.max_queries <= MAX_QUERIES:
            raise ParamError(
                "{max_queries} expects a number of queries from 1 to {high}; got {got}",
                high=f"{MAX_QUERIES:,}",
                got=self.max_queries,
            )
        if self.max_time is not None and not 0 < self.max_time <= MAX_SECONDS:
            raise ParamError(
                "{max_time} expects seconds, more than 0 and at most {high} (a year); got {got}",
                high=f"{MAX_SECONDS:,}",
                got=self.max_time,
            )

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def spend(self, queries: int) -> None:
        self.queries += queries

    def exhausted(self) -> str | None:
        """Why no new unit may start, or None while there is budget left."""
        if self.max_queries is not None and self.queries >= self.max_queries:
            return f"{self.queries} queries spent of max_queries {self.max_queries}"
        if self.max_time is not None and self.elapsed >= self.max_time:
            return f"{self.elapsed:.1f} s spent of max_time {self.max_time:g}"
        return None
