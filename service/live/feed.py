"""The process's live feed: from each commit of the read models to the subscribers it concerns.

It follows the read models' position through the process's one listener connection
(``PositionWatcher``: LISTEN on the projector's channel, a poll as a fallback, reconnecting after
a database restart). For every range of positions newly committed it

1. reads the range's audit-trail rows once (one query per range, whatever the number of
   subscribers) and learns from them which subjects changed (``Batch``);
2. lets each channel with subscribers fetch its changed rows once (one query per kind);
3. offers each row to the subscribers indexed under its subjects, checking each one's
   visibility (never waiting for a subscriber: see ``Subscriber.offer``).

Positions are the seam between replay and live updates. ``horizon`` is the position up to which
ranges are delivered or being delivered; a subscriber joins with ``since = horizon``, replays
what it missed up to ``since`` from the read models (which are at least there), and receives
live only what lies beyond. Nothing falls between the two, nothing comes twice. ``delivered``
only moves once a range went out, so after a failure (the database restarting) the same range is
read again: no update is lost for a live subscriber either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from domain.provenance import Role
from service.api.visibility import Visibility
from service.auth import Viewer
from service.live.at_risk import Thresholds
from service.live.batch import AUDIT_ROWS, Batch
from service.live.channels import (
    AtRiskChannel,
    AuditTailChannel,
    Channel,
    GoalProgressChannel,
    Indexed,
    ScorecardChannel,
)
from service.live.subscriber import DEFAULT_CAPACITY, HangUp, Subscriber
from service.live.trials import TrialChannel
from service.positions import PositionWatcher

log = logging.getLogger("perfledger.live")

CHUNK = 5000  # positions read per range at most, so a long catch-up stays in bounded memory
RETRY_SECONDS = 0.5


class LiveFeed:
    def __init__(
        self,
        pool: asyncpg.Pool,
        watcher: PositionWatcher,
        *,
        capacity: int = DEFAULT_CAPACITY,
        chunk: int = CHUNK,
    ) -> None:
        self.pool = pool
        self.watcher = watcher
        self.capacity = capacity
        self.chunk = chunk
        self.thresholds = Thresholds()
        self.scorecards = ScorecardChannel()
        self.progress = GoalProgressChannel()
        self.at_risk = AtRiskChannel(self.thresholds)
        self.audit = AuditTailChannel()
        self.trials = TrialChannel()
        self.channels: list[Channel] = [
            self.scorecards,
            self.progress,
            self.at_risk,
            self.audit,
            self.trials,
        ]
        self.delivered = 0
        self.horizon = 0
        self._managers: set[Subscriber[Any]] = set()  # whose view follows the org chart
        self._task: asyncio.Task[None] | None = None

    async def start(self, position: int) -> None:
        """Go live from ``position`` (the read models' when the service starts)."""
        self.delivered = self.horizon = position
        self._task = asyncio.create_task(self._run(), name="live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.trials.stop()

    async def subscriber(self, viewer: Viewer, hang_up: HangUp) -> Subscriber[Any]:
        """A subscriber for ``viewer``, served from the current horizon on: join it to a
        channel before anything else awaits (``joined``)."""
        people = await Visibility(viewer, self.pool).people()
        return Subscriber(
            viewer, people, since=self.horizon, capacity=self.capacity, hang_up=hang_up
        )

    @contextlib.asynccontextmanager
    async def joined(
        self, channel: Indexed[Any], viewer: Viewer, interest: Any, hang_up: HangUp
    ) -> AsyncIterator[Subscriber[Any]]:
        """A subscriber joined to ``channel`` for ``interest`` until the block ends."""
        subscriber = await self.subscriber(viewer, hang_up)
        subscriber.since = self.horizon  # nothing awaits between here and joining
        with channel.joined(subscriber, interest):
            if viewer.role is Role.MANAGER:
                self._managers.add(subscriber)
            try:
                yield subscriber
            finally:
                self._managers.discard(subscriber)

    async def _run(self) -> None:
        while True:
            target = await self.watcher.advanced(self.delivered)
            upto = min(target, self.delivered + self.chunk)
            self.horizon = upto
            try:
                await self._deliver(self.delivered, upto)
            except asyncio.CancelledError:
                raise
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                # The database is restarting or unreachable: read the same range again.
                log.warning(
                    "live feed: reading positions %d-%d failed (%s); retrying",
                    self.delivered + 1,
                    upto,
                    error,
                )
                await asyncio.sleep(RETRY_SECONDS)
                continue
            except Exception:  # a bug must not stop every live update of the process
                log.exception("live feed: positions %d-%d skipped", self.delivered + 1, upto)
            self.delivered = upto

    async def _deliver(self, after: int, upto: int) -> None:
        wanted = [channel for channel in self.channels if channel.wanted()]
        if not wanted:
            return
        async with self.pool.acquire() as conn:
            batch = Batch(after, upto, await conn.fetch(AUDIT_ROWS, after, upto))
            if not batch.rows:
                return
            fetched = [await channel.fetch(conn, batch) for channel in wanted]
        if batch.reorganised:
            await self._renew_views()
        for channel, rows in zip(wanted, fetched, strict=True):
            channel.dispatch(batch, rows)

    async def _renew_views(self) -> None:
        """After a change of reporting lines, each manager's view is read again (once per
        manager, however many subscriptions they hold)."""
        views: dict[Viewer, frozenset[Any] | None] = {}
        for subscriber in list(self._managers):
            viewer = subscriber.viewer
            if viewer not in views:
                views[viewer] = await Visibility(viewer, self.pool).people()
            subscriber.people = views[viewer]
