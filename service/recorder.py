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
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

PIPELINE_MAX_EVENTS = 200


class PerfledgerRecorder(PostgresApplicationRecorder):
    _notify_statement: bytes | None = None

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # One array per column instead of one array of a composite type: psycopg adapts the
        # composite row by row in Python, the plain arrays in C (most of a large save's cost).
        self.insert_columns_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%s::{id_type}[], %s::bigint[], %s::text[], %s::bytea[]) "
            "RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=SQL(self.datastore.originator_id_type),
        )

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self.insert_columns_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            prepare=True,
        )

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
