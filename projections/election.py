"""One active worker per job across processes: an advisory lock elects it, NOTIFY wakes it.

The worker that holds a PostgreSQL advisory lock (on a connection of its own) is the active one;
others wait on standby and take over when it goes away. It wakes on the event store's NOTIFY and
also polls, so a lost notification only delays it. A lost connection or an unexpected error
drops the worker's memory and starts it again from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger("perfledger.projections")

Connect = Callable[[], Awaitable[asyncpg.Connection]]


class ElectedWorker:
    """Subclasses say what one round of work is (``catch_up``) and how to drop their memory
    (``forget``); ``name`` names the lock and the logs."""

    name: str

    def __init__(self, connect: Connect, *, events_channel: str, poll_seconds: float) -> None:
        self.connect = connect
        self.events_channel = events_channel
        self.poll_seconds = poll_seconds
        self.active = False
        self._wake = asyncio.Event()

    async def catch_up(self, conn: asyncpg.Connection) -> Any:
        raise NotImplementedError

    def forget(self) -> None:
        raise NotImplementedError

    def wake(self, *_: object) -> None:
        self._wake.set()

    async def try_lock(self, conn: asyncpg.Connection) -> bool:
        locked: bool = await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtext($1))", f"perfledger:projection:{self.name}"
        )
        return locked

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: wait for the lock, then keep up with the log."""
        while not stop.is_set():
            try:
                await self._run_once(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("%s lost its database connection: %s", self.name, error)
                self.forget()
                await sleep_or_stop(stop, 1.0)
            except Exception:
                log.exception("%s failed; restarting it from the database", self.name)
                self.forget()
                await sleep_or_stop(stop, 1.0)

    async def _run_once(self, stop: asyncio.Event) -> None:
        lock_conn = await self.connect()
        work_conn: asyncpg.Connection | None = None
        try:
            while not await self.try_lock(lock_conn):
                self.active = False
                if await sleep_or_stop(stop, 2.0):
                    return
            self.active = True
            log.info("%s: this process is the active worker", self.name)
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


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
