"""Keeps the projector running: one active runner per projection, fed in batches.

The runner that holds a PostgreSQL advisory lock (on a connection of its own) is the active one;
others wait on standby and take over when it goes away. It reads the log through the event
store's recorder interface, never by SQL on the events table, so the store stays a configuration
choice. It wakes on the store's NOTIFY and also polls, so a lost notification only delays it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.projector import Projector

log = logging.getLogger("perfledger.projections")

ReadNotifications = Callable[[int, int], Sequence[Any]]  # (after position, limit) -> notifications
Decode = Callable[[Any], Any]
Connect = Callable[[], Awaitable[asyncpg.Connection]]
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


class ProjectionRunner:
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
        self.projector = projector
        self.read_notifications = read_notifications
        self.decode = decode
        self.connect = connect
        self.events_channel = events_channel
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self.active = False

    def _lock_key(self) -> str:
        return f"perfledger:projection:{self.projector.name}"

    async def try_lock(self, conn: asyncpg.Connection) -> bool:
        locked: bool = await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtext($1))", self._lock_key()
        )
        return locked

    def _read_batch(self, after: int) -> list[tuple[int, Any]]:
        notifications = self.read_notifications(after, self.batch_size)
        wants, decode = self.projector.wants, self.decode
        return [(n.id, decode(n)) for n in notifications if wants(n.topic)] + (
            [(notifications[-1].id, None)] if notifications else []
        )

    async def catch_up(
        self, conn: asyncpg.Connection, *, progress: Progress | None = None
    ) -> CatchUp:
        """Apply everything recorded so far; return how much and how fast."""
        started = time.perf_counter()
        applied = 0
        if self.projector.position is None:
            await self.projector.load(conn)
        assert self.projector.position is not None
        pending = asyncio.ensure_future(
            asyncio.to_thread(self._read_batch, self.projector.position)
        )
        while True:
            batch = await pending
            if not batch:
                break
            last_position = batch[-1][0]
            # Read and decode the next batch in a thread while this one is written.
            pending = asyncio.ensure_future(asyncio.to_thread(self._read_batch, last_position))
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

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: wait for the lock, then keep the read models current."""
        while not stop.is_set():
            try:
                await self._run_once(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("projection runner lost its database connection: %s", error)
                self.projector.forget()
                await _sleep_or_stop(stop, 1.0)
            except Exception:
                log.exception("projection runner failed; restarting it from the database")
                self.projector.forget()
                await _sleep_or_stop(stop, 1.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        lock_conn = await self.connect()
        work_conn: asyncpg.Connection | None = None
        try:
            while not await self.try_lock(lock_conn):
                self.active = False
                if await _sleep_or_stop(stop, 2.0):
                    return
            self.active = True
            log.info("projection %s: this process is the active runner", self.projector.name)
            work_conn = await self.connect()
            await lock_conn.add_listener(self.events_channel, self.wake)
            while not stop.is_set():
                self._wake.clear()
                await self.catch_up(work_conn)
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                await asyncio.wait(
                    {waiter, stopper},
                    timeout=self.poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                waiter.cancel()
                stopper.cancel()
        finally:
            self.active = False
            if work_conn is not None:
                await work_conn.close()
            await lock_conn.close()  # closing the session releases the advisory lock


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
