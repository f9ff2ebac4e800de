"""Keeps the projector running: one active runner per projection, fed in batches.

The runner that holds a PostgreSQL advisory lock (on a connection of its own) is the active one;
others wait on standby and take over when it goes away. It reads the log through the event
store's recorder interface, never by SQL on the events table, so the store stays a configuration
choice. It wakes on the store's NOTIFY and also polls, so a lost notification only delays it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.election import Connect, ElectedWorker
from projections.projector import Projector

ReadNotifications = Callable[[int, int], Sequence[Any]]  # (after position, limit) -> notifications
Decode = Callable[[Any], Any]
Progress = Callable[[int, int], None]  # (events applied so far, current position)

DEFAULT_BATCH = 5000


@dataclass
class CatchUp:
    events: int
    position: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class ProjectionRunner(ElectedWorker):
    def __init__(
        self,
        projector: Projector,
        read_notifications: ReadNotifications,
        decode: Decode,
        connect: Connect,
        *,
        events_channel: str,
        batch_size: int = DEFAULT_BATCH,
        poll_seconds: float = 0.5,
    ) -> None:
        super().__init__(connect, events_channel=events_channel, poll_seconds=poll_seconds)
        self.projector = projector
        self.name = projector.name
        self.read_notifications = read_notifications
        self.decode = decode
        self.batch_size = batch_size

    def forget(self) -> None:
        self.projector.forget()

    def _read_batch(self, after: int, until: int | None = None) -> list[tuple[int, Any]]:
        limit = self.batch_size if until is None else max(0, min(self.batch_size, until - after))
        if limit == 0:
            return []
        notifications = self.read_notifications(after, limit)
        if until is not None:
            notifications = [n for n in notifications if n.id <= until]
        wants, decode = self.projector.wants, self.decode
        return [(n.id, decode(n)) for n in notifications if wants(n.topic)] + (
            [(notifications[-1].id, None)] if notifications else []
        )

    async def catch_up(
        self,
        conn: asyncpg.Connection,
        *,
        progress: Progress | None = None,
        until: int | None = None,
    ) -> CatchUp:
        """Apply everything recorded so far (or up to position ``until``); return how much and
        how fast."""
        started = time.perf_counter()
        applied = 0
        if self.projector.position is None:
            await self.projector.load(conn)
        assert self.projector.position is not None
        pending = asyncio.ensure_future(
            asyncio.to_thread(self._read_batch, self.projector.position, until)
        )
        while True:
            batch = await pending
            if not batch:
                break
            last_position = batch[-1][0]
            # Read and decode the next batch in a thread while this one is written.
            pending = asyncio.ensure_future(
                asyncio.to_thread(self._read_batch, last_position, until)
            )
            events = batch[:-1]
            try:
                self.projector.apply(events)
                await self.projector.commit(conn, last_position)
            except BaseException:
                pending.cancel()
                raise
            applied += len(events)
            if len(events) >= self.batch_size // 2:
                # Catching up on a long log: the read models' memory grows by the batch and
                # holds no cycles, so move it out of the cyclic collector's sight, or each full
                # collection rescans all of it. Not in steady state: freezing also pins any
                # cyclic garbage alive at that moment, which is harmless only now and then.
                gc.freeze()
            if progress is not None:
                progress(applied, last_position)
        return CatchUp(applied, self.projector.position or 0, time.perf_counter() - started)
