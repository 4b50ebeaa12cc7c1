"""A target's meter shared with the worker processes of a scan.

The meter (a :class:`feint.targets.meter.Meter`: rows and requests sent, the budget of
rows, the spacing of request starts) stays in the scan's process, where a
:class:`MeterServer` answers its calls over a local socket that only holders of its key
can use; each worker process talks to it through one :class:`MeterClient`. Every call is
one step done under the meter's own lock in the scan's process, so no lock is ever held
by a worker: a worker that dies leaves the meter as it was, and the rows it had set
aside for a call are given back when its connection closes. The server's threads die
with the scan's process.
"""

from __future__ import annotations

import os
import threading
from multiprocessing.connection import Client, Connection, Listener
from typing import Any

from feint.errors import FeintError
from feint.targets.meter import QueryMeter

__all__ = ["MeterServer", "MeterClient", "MeterAddress"]

MeterAddress = tuple[str, bytes]  # the socket's address and its key
_CALLS = frozenset({"promise", "charge", "release", "wait_time", "counts"})


class MeterServer:
    """Serves ``meter`` to other processes of this machine until :meth:`close`."""

    def __init__(self, meter: QueryMeter) -> None:
        self.meter = meter
        self.key = os.urandom(32)
        self.listener = Listener(family="AF_UNIX", authkey=self.key)
        self.closed = threading.Event()
        self.connections: set[Connection] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, name="feint-meter", daemon=True).start()

    @property
    def address(self) -> MeterAddress:
        return str(self.listener.address), self.key

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn = self.listener.accept()
            except Exception:  # noqa: BLE001, S112 - closed, or a caller without the key
                continue
            with self.lock:
                self.connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="feint-meter-conn", daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        held = 0  # rows this caller set aside and has not sent or given back
        try:
            while True:
                try:
                    name, args = conn.recv()
                except (EOFError, OSError):
                    return
                if name not in _CALLS:
                    conn.send(("error", f"no meter call {name!r}"))
                    continue
                try:
                    value = getattr(self.meter, name)(*args)
                except Exception as exc:  # noqa: BLE001 - told to the caller, which raises it
                    conn.send(("error", f"the meter's {name} failed: {type(exc).__name__}: {exc}"))
                    continue
                if name == "promise" and value is None:
                    held += args[0]
                elif name == "charge" and value is None:
                    held -= args[1]
                elif name == "release":
                    held -= args[0]
                conn.send(("ok", value))
        finally:
            if held > 0:  # a worker that died in the middle of a call
                self.meter.release(held)
            with self.lock:
                self.connections.discard(conn)
            conn.close()

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        with self.lock:
            for conn in list(self.connections):
                try:
                    conn.close()
                except OSError:
                    pass


class MeterClient:
    """A :class:`feint.targets.meter.QueryMeter` that asks the meter a :class:`MeterServer`
    serves; safe between threads. ``sent`` counts what went through this client."""

    def __init__(self, address: MeterAddress, max_queries: int | None, rate_limit: float | None) -> None:
        self.address = address
        self.max_queries = max_queries
        self.rate_limit = rate_limit
        self.conn: Connection | None = None
        self.lock = threading.Lock()
        self.rows = 0
        self.requests = 0

    def _call(self, name: str, *args: Any) -> Any:
        with self.lock:
            try:
                if self.conn is None:
                    self.conn = Client(self.address[0], family="AF_UNIX", authkey=self.address[1])
                self.conn.send((name, args))
                kind, value = self.conn.recv()
            except (EOFError, OSError) as exc:
                raise FeintError(f"the scan's meter of the model's queries cannot be reached: {exc}") from None
        if kind != "ok":
            raise FeintError(str(value))
        return value

    def promise(self, rows: int) -> int | None:
        value: int | None = self._call("promise", rows)
        return value

    def charge(self, rows: int, promised: int) -> int | None:
        value: int | None = self._call("charge", rows, promised)
        if value is None:
            with self.lock:
                self.rows += rows
                self.requests += 1
        return value

    def release(self, rows: int) -> None:
        if rows:
            self._call("release", rows)

    def wait_time(self) -> float:
        if not self.rate_limit:
            return 0.0
        return float(self._call("wait_time"))

    def counts(self) -> tuple[int, int]:
        queries, requests = self._call("counts")
        return int(queries), int(requests)

    def sent(self) -> tuple[int, int]:
        with self.lock:
            return self.rows, self.requests
