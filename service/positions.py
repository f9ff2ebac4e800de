"""Read-your-writes: wait until the read models have reached a log position.

One dedicated connection per process listens for the projector's NOTIFY after each commit; a
slow poll covers notifications lost while that connection was down. The live feed
(service/live) follows the same position to push what each commit changed to subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from domain.errors import DomainError
from projections.projector import PROJECTED_CHANNEL

log = logging.getLogger("perfledger.positions")

MAX_WAIT_SECONDS = 30.0


class PositionNotReached(DomainError):
    code = "POSITION_NOT_REACHED"


class PositionWatcher:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        projection: str,
        *,
        poll_seconds: float = 1.0,
    ) -> None:
        self.connect = connect
        self.projection = projection
        self.poll_seconds = poll_seconds
        self.position = 0
        self._changed = asyncio.Event()  # replaced by a fresh one each time position moves
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="position-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _advance(self, position: int) -> None:
        if position > self.position:
            self.position = position
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        self._advance(int(str(payload)))

    async def _listen(self) -> None:
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self.connect()
                await conn.add_listener(PROJECTED_CHANNEL, self._notified)
                while True:
                    current = await conn.fetchval(
                        "SELECT position FROM projection_tracking WHERE name = $1",
                        self.projection,
                    )
                    self._advance(int(current or 0))
                    await asyncio.sleep(self.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # database restarts: reconnect and go on
                log.warning("position watcher reconnecting after: %s", error)
                await asyncio.sleep(0.5)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()

    async def advanced(self, beyond: int) -> int:
        """Wait (as long as it takes) until the read models pass ``beyond``; their position."""
        while self.position <= beyond:
            await self._changed.wait()
        return self.position

    async def wait_for(self, position: int, seconds: float) -> None:
        """Return once the read models reflect ``position``; fail clearly after ``seconds``."""
        seconds = min(seconds, MAX_WAIT_SECONDS)
        try:
            async with asyncio.timeout(seconds):
                while self.position < position:
                    await self._changed.wait()
        except TimeoutError:
            raise PositionNotReached(
                f"the read models reached position {self.position}, not {position}, within "
                f"{seconds:g}s; try again shortly",
                field="minPosition",
            ) from None
