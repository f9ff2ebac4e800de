"""Tamper evidence: a hash chain over the event log, in log order, with periodic checkpoints.

Each stored event is chained as it is recorded:
``hash(n) = SHA-256(hash(previous entry) || entry_bytes(event n))``, starting from 32 zero bytes.
The entry bytes are the event as the store holds it (position, originator id and version, topic,
and the state, which is AES-GCM ciphertext), so the chain never needs the key and proves the
stored bytes themselves. Besides the hash, each chain row keeps the event's metadata and the
SHA-256 of its state, so verification can say which field changed, not only that one did.

Checkpoints (position, hash, entries so far, time) are recorded every ``checkpoint_every``
entries and at least every ``checkpoint_seconds`` while events arrive; an exported trail can be
checked against them, and a chain rewritten from some position on is caught at the next one.

The builder runs like a projection (one active builder per database, elected by an advisory lock,
tracking row ``audit_chain`` in ``projection_tracking``, rows and tracking committed together)
but on its own loop: it needs the stored bytes, not decoded events, and never rebuilds.
The events table and the chain tables refuse UPDATE, DELETE and TRUNCATE by trigger, which stops
every role but a superuser (or the tables' owner disabling the trigger first); see the README's
"Tamper evidence".
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.election import Connect, ElectedWorker

GENESIS = bytes(32)
TRACKING_NAME = "audit_chain"
CHECKPOINT_EVERY = 1000
CHECKPOINT_SECONDS = 300.0
DEFAULT_BATCH = 10_000

ReadNotifications = Callable[[int, int], Sequence[Any]]  # (after position, limit) -> notifications

CHAIN_TABLES = ("audit_chain", "audit_checkpoints")

CHAIN_DDL = """
CREATE TABLE IF NOT EXISTS projection_tracking (
    name text PRIMARY KEY,
    position bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS audit_chain (
    position bigint PRIMARY KEY,
    originator_id text NOT NULL,
    originator_version bigint NOT NULL,
    topic text NOT NULL,
    state_sha256 bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    position bigint PRIMARY KEY,
    entries bigint NOT NULL,
    hash bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
"""

GUARD_FUNCTION = """
CREATE OR REPLACE FUNCTION perfledger_refuse_rewrite() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: the table is append-only (tamper evidence)',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Recorded events and chain entries are never changed or removed; '
                     'see "Tamper evidence" in the README.';
END
$$
"""


def entry_bytes(
    position: int, originator_id: str, originator_version: int, topic: str, state: bytes
) -> bytes:
    """The stored event, unambiguously: fixed-width numbers, length-prefixed strings and state.

    tools/verify_export.py repeats this (it must run without the service); keep them equal.
    """
    oid, top = originator_id.encode(), topic.encode()
    return b"".join(
        (
            _HEAD.pack(position, originator_version, len(oid)),
            oid,
            _LENGTH.pack(len(top)),
            top,
            _LENGTH.pack(len(state)),
            state,
        )
    )


_HEAD = struct.Struct(">QQI")  # position, originator version, length of the originator id
_LENGTH = struct.Struct(">I")


def link(previous: bytes, notification: Any) -> bytes:
    """The chain hash of one stored event (a library ``Notification``) after ``previous``."""
    return link_entry(
        previous,
        notification.id,
        str(notification.originator_id),
        notification.originator_version,
        notification.topic or "",
        notification.state,
    )


def link_entry(
    previous: bytes,
    position: int,
    originator_id: str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The chain hash of one stored event, given field by field, after ``previous``."""
    entry = entry_bytes(position, originator_id, originator_version, topic, state)
    return hashlib.sha256(previous + entry).digest()


@dataclass(frozen=True)
class ChainEntry:
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state_sha256: bytes
    hash: bytes

    def record(self) -> tuple[int, str, int, str, bytes, bytes]:
        return (
            self.position,
            self.originator_id,
            self.originator_version,
            self.topic,
            self.state_sha256,
            self.hash,
        )


def chain(previous: bytes, notifications: Sequence[Any]) -> list[ChainEntry]:
    entries = []
    for n in notifications:
        previous = link(previous, n)
        entries.append(
            ChainEntry(
                n.id,
                str(n.originator_id),
                n.originator_version,
                n.topic or "",
                hashlib.sha256(n.state).digest(),
                previous,
            )
        )
    return entries


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def install_guards(conn: asyncpg.Connection, tables: Sequence[str]) -> None:
    """Make each table (schema-qualified and quoted) refuse UPDATE, DELETE and TRUNCATE.

    Only missing triggers are created, so a restricted service role (no TRIGGER privilege,
    not the function's owner) starts fine once an owner has installed them.
    """
    wanted: list[tuple[str, str, str]] = []
    for table in tables:
        for suffix, timing in (
            ("append_only", "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW"),
            ("no_truncate", "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT"),
        ):
            name = f"perfledger_{suffix}"
            present = await conn.fetchval(
                "SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = $2",
                table,
                name,
            )
            if not present:
                wanted.append((name, timing.format(t=table), table))
    if not wanted:
        return
    await conn.execute(GUARD_FUNCTION)
    for name, timing, _ in wanted:
        await conn.execute(
            f"CREATE TRIGGER {quote(name)} {timing} EXECUTE FUNCTION perfledger_refuse_rewrite()"
        )


class ChainConflict(RuntimeError):
    """Another builder moved the chain: this one's memory is stale."""


@dataclass
class ChainCatchUp:
    entries: int
    position: int
    seconds: float


class AuditChain(ElectedWorker):
    """Builds the chain from the log; one active builder per database."""

    name = TRACKING_NAME

    def __init__(
        self,
        read_notifications: ReadNotifications,
        connect: Connect,
        *,
        events_table: str,
        events_channel: str,
        batch_size: int = DEFAULT_BATCH,
        poll_seconds: float = 1.0,
        checkpoint_every: int = CHECKPOINT_EVERY,
        checkpoint_seconds: float = CHECKPOINT_SECONDS,
    ) -> None:
        super().__init__(connect, events_channel=events_channel, poll_seconds=poll_seconds)
        self.read_notifications = read_notifications
        self.events_table = events_table  # schema-qualified, quoted
        self.batch_size = batch_size
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.position: int | None = None  # None: not loaded
        self.last_hash = GENESIS
        self.entries = 0
        self.last_checkpoint_at = 0.0  # epoch seconds

    async def create_schema(self, conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('perfledger:ddl'))")
            await conn.execute(CHAIN_DDL)
            await conn.execute(
                "INSERT INTO projection_tracking (name, position) VALUES ($1, 0) "
                "ON CONFLICT (name) DO NOTHING",
                self.name,
            )
            await install_guards(conn, [self.events_table, *map(quote, CHAIN_TABLES)])

    async def load(self, conn: asyncpg.Connection) -> int:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            position: int = await conn.fetchval(
                "SELECT position FROM projection_tracking WHERE name = $1", self.name
            )
            last = await conn.fetchval(
                "SELECT hash FROM audit_chain WHERE position <= $1 ORDER BY position DESC LIMIT 1",
                position,
            )
            checkpoint = await conn.fetchrow(
                "SELECT position, entries, recorded_at FROM audit_checkpoints "
                "ORDER BY position DESC LIMIT 1"
            )
            since = checkpoint["position"] if checkpoint else 0
            after: int = await conn.fetchval(
                "SELECT count(*) FROM audit_chain WHERE position > $1 AND position <= $2",
                since,
                position,
            )
        self.position = position
        self.last_hash = bytes(last) if last is not None else GENESIS
        self.entries = (checkpoint["entries"] if checkpoint else 0) + after
        self.last_checkpoint_at = checkpoint["recorded_at"].timestamp() if checkpoint else 0.0
        return position

    def forget(self) -> None:
        self.position = None

    def _read_and_chain(self, after: int, previous: bytes) -> list[ChainEntry]:
        return chain(previous, self.read_notifications(after, self.batch_size))

    async def catch_up(self, conn: asyncpg.Connection) -> ChainCatchUp:
        """Chain everything recorded so far."""
        started = time.perf_counter()
        chained = 0
        if self.position is None:
            await self.load(conn)
        assert self.position is not None
        pending = asyncio.ensure_future(
            asyncio.to_thread(self._read_and_chain, self.position, self.last_hash)
        )
        while True:
            batch = await pending
            if not batch:
                break
            # Read and hash the next batch in a thread while this one is written.
            pending = asyncio.ensure_future(
                asyncio.to_thread(self._read_and_chain, batch[-1].position, batch[-1].hash)
            )
            try:
                await self.commit(conn, batch)
            except BaseException:
                pending.cancel()
                raise
            chained += len(batch)
        return ChainCatchUp(chained, self.position or 0, time.perf_counter() - started)

    def _checkpoints(self, batch: Sequence[ChainEntry]) -> list[tuple[int, int, bytes]]:
        every = self.checkpoint_every
        checkpoints = [
            (entry.position, self.entries + i + 1, entry.hash)
            for i, entry in enumerate(batch)
            if (self.entries + i + 1) % every == 0
        ]
        if not checkpoints and time.time() - self.last_checkpoint_at >= self.checkpoint_seconds:
            last = batch[-1]
            checkpoints.append((last.position, self.entries + len(batch), last.hash))
        return checkpoints

    async def commit(self, conn: asyncpg.Connection, batch: Sequence[ChainEntry]) -> None:
        assert self.position is not None
        checkpoints = self._checkpoints(batch)
        last = batch[-1]
        try:
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "audit_chain", records=[entry.record() for entry in batch]
                )
                if checkpoints:
                    await conn.executemany(
                        "INSERT INTO audit_checkpoints (position, entries, hash) "
                        "VALUES ($1, $2, $3)",
                        checkpoints,
                    )
                moved = await conn.execute(
                    "UPDATE projection_tracking SET position = $2, updated_at = now() "
                    "WHERE name = $1 AND position = $3",
                    self.name,
                    last.position,
                    self.position,
                )
                if moved != "UPDATE 1":
                    raise ChainConflict(f"the audit chain is no longer at {self.position}")
        except BaseException:
            self.forget()
            raise
        self.position = last.position
        self.last_hash = last.hash
        self.entries += len(batch)
        if checkpoints:
            self.last_checkpoint_at = time.time()
