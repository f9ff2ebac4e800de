"""A running trial's comparison, kept current for its subscribers.

The comparison (pilot rules against production on the trial's participants) is expensive and
changes whenever a fact about the trial or one of its participants is committed, or production's
rules change. One ``TrialWatch`` per (trial, review cycle) serves all its subscribers: a commit
that touches the trial marks it stale; it is recomputed at most once per ``DEBOUNCE_SECONDS``,
however many commits arrive meanwhile (they coalesce into the next recomputation), and the one
result goes to every subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from uuid import UUID

from service.live.at_risk import Connection
from service.live.batch import Batch
from service.live.subscriber import Subscriber

log = logging.getLogger("perfledger.live")

DEBOUNCE_SECONDS = 1.0

Compute = Callable[[], Awaitable[Any]]  # the comparison as the read models stand now
Participants = Callable[[], Awaitable[frozenset[UUID]]]  # the trial's, as they stand now
TrialKey = tuple[UUID, UUID]  # (trial, review cycle)


class TrialWatch:
    def __init__(
        self,
        key: TrialKey,
        compute: Compute,
        participants: Participants,
        horizon: Callable[[], int],
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self.trial_id, self.cycle_id = key
        self.compute = compute
        self.load_participants = participants
        self.participants: frozenset[UUID] = frozenset()  # known from the first computation
        self.horizon = horizon  # the feed's position, for a report no commit asked for
        self.debounce = debounce
        self.subscribers: set[Subscriber[Any]] = set()
        self.latest: tuple[int, Any] | None = None
        self._stale: int | None = None  # the last touching position not yet reflected
        self._last_started = -debounce
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"trial-watch-{self.trial_id}")

    def touches(self, batch: Batch) -> int | None:
        """The last position in the batch about the trial, its cycle, its participants or
        production's rules; None if none is."""
        found = None
        for r in batch.rows:
            if (
                r["aggregate_id"] in (self.trial_id, self.cycle_id)
                or r["aggregate_type"] == "RuleBook"
                or not self.participants.isdisjoint(r["employee_ids"])
                or r["reviewee_id"] in self.participants
            ):
                found = r["position"]
        return found

    def touch(self, position: int) -> None:
        self._stale = max(position, self._stale or 0)
        self._wake.set()

    async def current(self) -> tuple[int, Any]:
        """A report reflecting every touch so far (computed now if it must be)."""
        async with self._lock:
            if self.latest is None or self._stale is not None:
                await self._recompute()
            assert self.latest is not None
            return self.latest

    async def _recompute(self) -> None:
        """Under the lock: wait out the debounce, compute, offer the result to everyone."""
        wait = self._last_started + self.debounce - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        position = max(self._stale or 0, self.horizon())
        self._stale = None
        self._last_started = time.monotonic()
        self.participants = await self.load_participants()
        report = await self.compute()
        self.latest = (position, report)
        for subscriber in list(self.subscribers):
            subscriber.offer(position, report, position)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                async with self._lock:
                    if self._stale is not None:
                        await self._recompute()
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed comparison must not end the watch: next commit retries
                log.exception("recomputing the comparison of trial %s failed", self.trial_id)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class TrialChannel:
    """``trialComparisonUpdated``: watches by (trial, cycle), made by their first subscriber and
    stopped with their last."""

    def __init__(self) -> None:
        self.watches: dict[TrialKey, TrialWatch] = {}

    def wanted(self) -> bool:
        return bool(self.watches)

    async def fetch(self, conn: Connection, batch: Batch) -> None:
        return None

    def dispatch(self, batch: Batch, fetched: None) -> None:
        for watch in self.watches.values():
            position = watch.touches(batch)
            if position is not None:
                watch.touch(position)

    @contextlib.asynccontextmanager
    async def joined(
        self, subscriber: Subscriber[Any], key: TrialKey, make: Callable[[], TrialWatch]
    ) -> AsyncIterator[TrialWatch]:
        watch = self.watches.get(key)
        if watch is None:
            watch = self.watches[key] = make()
        watch.subscribers.add(subscriber)
        try:
            yield watch
        finally:
            watch.subscribers.discard(subscriber)
            if not watch.subscribers and self.watches.get(key) is watch:
                del self.watches[key]
                await watch.stop()

    async def stop(self) -> None:
        for watch in list(self.watches.values()):
            await watch.stop()
        self.watches.clear()
