"""The event store's recorder, with two additions for large saves.

The library inserts each save in psycopg's pipeline mode: one round trip, ideal for the small
saves of commands. A statement larger than the socket buffer can stall there for good (psycopg
stops sending before the statement is out, then waits for a result; seen from about 400 KB on a
Unix socket), so large saves go through an ordinary transaction instead: the same table lock,
notification and insert, in the same order.

A save marked ``bulk=True`` (``app.save(*aggregates, bulk=True)``) also commits without waiting
for its WAL to reach the disk. Bulk loads use it and end with an ordinary save: that commit
flushes the WAL of every earlier one, so nothing is acknowledged before it is durable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

PIPELINE_MAX_EVENTS = 200


class PerfledgerRecorder(PostgresApplicationRecorder):
    _notify_statement: bytes | None = None

    def _notify_channel(self, curs: Cursor[DictRow]) -> None:
        # The library composes this statement on every save; its text never changes.
        if self._notify_statement is None:
            statement = SQL("NOTIFY {0}").format(Identifier(self.channel_name))
            self._notify_statement = statement.as_bytes(curs)
        curs.execute(self._notify_statement)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        bulk = bool(kwargs.get("bulk"))
        if len(stored_events) <= PIPELINE_MAX_EVENTS and not bulk:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        if not stored_events:
            return []
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            if bulk:
                curs.execute("SET LOCAL synchronous_commit = off")
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
