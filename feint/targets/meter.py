"""What a model's queries spend: a :class:`Meter` counts the rows and requests sent to one
model, keeps its budget of rows and spaces the starts of its requests.

A model adapter consults its meter before each request (:class:`QueryMeter` is what it
needs of one). A meter lives in one process and is safe between its threads; a scan that
runs its units in other processes serves its target's meter from its own process and
hands the workers a client of it (:mod:`feint.engine.meters`), so the budget, the rate
and the counts hold across every worker.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from feint.errors import FeintError

__all__ = ["Meter", "QueryMeter", "QueryBudgetExceeded", "meter_of", "use_meter"]


class QueryBudgetExceeded(FeintError):
    """Sending a batch would go past a model's query budget (an endpoint's ``max_queries``)."""


class QueryMeter(Protocol):
    """What a model adapter asks of a meter. ``max_queries`` and ``rate_limit`` are the
    limits it keeps; ``sent`` is what went through this object, in this process."""

    max_queries: int | None
    rate_limit: float | None

    def promise(self, rows: int) -> int | None:
        """Set ``rows`` aside for a call about to send them: ``None`` when they fit the
        budget, else the rows used so far (and nothing is set aside)."""
        ...

    def charge(self, rows: int, promised: int) -> int | None:
        """Count one request of ``rows`` rows about to be sent, ``promised`` of them set
        aside before: ``None`` when it may go, else the rows used so far (it may not)."""
        ...

    def release(self, rows: int) -> None:
        """Give back rows set aside and never sent."""
        ...

    def wait_time(self) -> float:
        """Book the next request start and return the seconds to wait for it."""
        ...

    def counts(self) -> tuple[int, int]:
        """Rows and requests sent so far, by every user of the meter."""
        ...

    def sent(self) -> tuple[int, int]:
        """Rows and requests sent through this object."""
        ...


class Meter:
    """The counts, the budget of rows (``max_queries``, never exceeded) and the spacing
    of request starts (``rate_limit`` per second) of one model; see the module doc."""

    def __init__(self, max_queries: int | None = None, rate_limit: float | None = None) -> None:
        self.max_queries = max_queries
        self.rate_limit = rate_limit
        self.interval = 1.0 / rate_limit if rate_limit else 0.0
        self.queries = 0  # rows sent, retries included
        self.requests = 0
        self.promised = 0  # rows of calls under way not sent yet
        self.next_start = 0.0  # time.monotonic() of the next free start
        self.carried: dict[str, tuple[int, int]] = {}  # per stored scan or run: its totals counted here
        self.lock = threading.Lock()

    def _fits(self, rows: int) -> bool:
        return self.max_queries is None or self.queries + self.promised + rows <= self.max_queries

    def promise(self, rows: int) -> int | None:
        with self.lock:
            if not self._fits(rows):
                return self.queries
            self.promised += rows
            return None

    def charge(self, rows: int, promised: int) -> int | None:
        with self.lock:
            self.promised -= promised
            extra = rows - promised
            if extra > 0 and not self._fits(extra):
                self.promised += promised
                return self.queries
            self.queries += rows
            self.requests += 1
            return None

    def release(self, rows: int) -> None:
        with self.lock:
            self.promised = max(0, self.promised - rows)

    def wait_time(self) -> float:
        if not self.interval:
            return 0.0
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_start)
            self.next_start = start + self.interval
        return start - now

    def add(self, rows: int, requests: int) -> None:
        """Count rows and requests sent elsewhere, through a meter of their own."""
        with self.lock:
            self.queries += rows
            self.requests += requests

    def carry(self, key: str, rows: int, requests: int) -> None:
        """Count, against the budget and in the counts, what earlier invocations sent for
        ``key`` (a stored scan or run being continued): its stored totals, less what this
        meter counted of them already (the same live target continuing its own scan)."""
        with self.lock:
            seen = self.carried.get(key, (0, 0))
            self.queries += max(0, rows - seen[0])
            self.requests += max(0, requests - seen[1])
            self.carried[key] = (max(rows, seen[0]), max(requests, seen[1]))

    def settle(self, key: str, rows: int, requests: int) -> None:
        """Note that ``key``'s stored totals are now ``rows`` and ``requests``, all of them
        counted by this meter (what it sent for ``key`` itself included)."""
        with self.lock:
            self.carried[key] = (rows, requests)

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.queries, self.requests

    def sent(self) -> tuple[int, int]:
        return self.counts()


def meter_of(target: Any) -> QueryMeter | None:
    """The meter of a target's model, or ``None`` for a model that keeps none."""
    return getattr(getattr(target, "adapter", None), "meter", None)


def use_meter(target: Any, meter: QueryMeter) -> None:
    """Make a target's model count, keep its budget and space its requests through ``meter``."""
    adapter = getattr(target, "adapter", None)
    if adapter is None or getattr(adapter, "meter", None) is None:
        raise FeintError(f"target {getattr(target, 'target_name', target)} keeps no meter of its model's queries")
    adapter.meter = meter
