"""One subscription's side of the fan-out: a bounded queue, and what its viewer may see.

The feed never waits for a subscriber: it offers each update and moves on. A subscriber that
still has ``capacity`` updates queued when the next commit's updates arrive cannot keep up (its
client reads slower than updates come); rather than slow everyone down or drop updates silently,
its connection is closed with ``TOO_SLOW`` and a reason naming the problem, and the client
resumes from the last position it received. The updates of one commit always go in together:
a single commit may change more (a rule adoption re-scores whole departments) than any
subscriber could take in between two, and that is no sign of a slow reader.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from service.auth import Viewer

T = TypeVar("T")

# A close code of the application's range (4000-4999) that graphql-transport-ws leaves unused.
TOO_SLOW = 4413
DEFAULT_CAPACITY = 256

HangUp = Callable[[int, str], None]  # close the subscriber's connection: (code, reason)


@dataclass(frozen=True, slots=True)
class Update(Generic[T]):
    position: int  # the log position the update reflects
    payload: T


class Subscriber(Generic[T]):
    """``since``: the log position up to which the subscriber is served by its replay (or needs
    nothing); the feed offers it only what lies beyond. ``people``: whose performance data its
    viewer sees (None: everyone), as ``service.api.visibility.Visibility`` decides; the feed
    renews it when the organisation changes."""

    def __init__(
        self,
        viewer: Viewer,
        people: frozenset[UUID] | None,
        *,
        since: int,
        capacity: int,
        hang_up: HangUp,
    ) -> None:
        self.viewer = viewer
        self.people = people
        self.since = since
        self.capacity = capacity
        self._hang_up = hang_up
        self._queue: deque[Update[T]] = deque()
        self._ready = asyncio.Event()
        self._commit = -1  # the commit whose updates are being offered
        self.dropped = False

    def sees(self, employee_id: UUID) -> bool:
        return self.people is None or employee_id in self.people

    def offer(self, position: int, payload: T, commit: int) -> None:
        """Queue an update of ``commit`` (any number naming one delivery, e.g. the last
        position of the range); never waits. Past ``since`` only, so nothing the replay gave
        comes twice."""
        if self.dropped or position <= self.since:
            return
        if commit != self._commit:
            self._commit = commit
            if len(self._queue) >= self.capacity:
                self.dropped = True
                self._queue.clear()
                self._hang_up(TOO_SLOW, f"subscriber too slow: {self.capacity} updates queued")
                return
        self._queue.append(Update(position, payload))
        self._ready.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def updates(self) -> AsyncIterator[Update[T]]:
        """The queued updates, in the order offered, until the subscription ends."""
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            yield self._queue.popleft()
