"""Verifying and exporting the audit chain (projections/audit_chain.py builds it).

Verification re-reads the log's stored bytes (joined, window by window, with the chain's rows),
recomputes every hash and compares, position by position, with the chain rows and checkpoints:
the first difference is reported with its position and what differs. An export writes the log's
stored bytes with the chain's hashes and a manifest, which tools/verify_export.py checks without
the service.

Both work on one page of positions at a time (at most ``MAX_RANGE``); the command line pages
through longer logs itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder

from projections.audit_chain import GENESIS, AuditChain, link_entry, quote
from service import database as db
from service.application import Perfledger
from service.cipher import cipher_env
from service.settings import Settings

MAX_RANGE = 1_000_000
PAGE = 10_000
EXPORT_FORMAT = "perfledger-audit-export/1"


class AuditRangeError(ValueError):
    """A requested range of positions is unusable; ``field`` names the input to blame."""

    def __init__(self, message: str, field: str, code: str = "INVALID_RANGE") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Checkpoint:
    position: int
    entries: int
    hash: bytes
    recorded_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "entries": self.entries,
            "hash": self.hash.hex(),
            "recorded_at": self.recorded_at.isoformat(),
        }


@dataclass(frozen=True)
class Break:
    position: int
    fields: tuple[str, ...]
    difference: str


@dataclass(frozen=True)
class Verification:
    first: int
    last: int  # the last position checked against the chain (at most the chain's position)
    checked: int  # log entries whose bytes matched the chain
    chained_position: int
    broken: Break | None
    last_checkpoint: Checkpoint | None  # the latest at or before ``last``
    checkpoints_checked: int
    end_hash: bytes  # recomputed hash of the last entry checked (or the anchor)

    @property
    def intact(self) -> bool:
        return self.broken is None


def build_audit_chain(app: Perfledger, database: db.Database) -> AuditChain:
    import asyncpg

    recorder = app.recorder

    def read(after: int, limit: int) -> list[object]:
        return list(recorder.select_notifications(after, limit, inclusive_of_start=False))

    async def connect() -> asyncpg.Connection:
        return await asyncpg.connect(**database.asyncpg_kwargs())

    return AuditChain(
        read,
        connect,
        events_table=events_table(app),
        events_channel=_recorder(app).channel_name,
    )


def _recorder(app: Perfledger) -> PostgresApplicationRecorder:
    recorder = app.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    return recorder


def events_table(app: Perfledger) -> str:
    recorder = _recorder(app)
    return f"{quote(recorder.datastore.schema)}.{quote(recorder.events_table_name)}"


def open_log(database: db.Database, settings: Settings) -> Perfledger:
    """The application as the service builds it, minus the start-up key check: an auditor must
    be able to verify a store whose first or last event was tampered with."""
    env = database.eventsourcing_env()
    env.update(cipher_env(settings.cipher_key, Perfledger.name))
    return Perfledger(env=env)


def check_from(first: int | None) -> int:
    if first is not None and first < 1:
        raise AuditRangeError(f"from must be a position of 1 or more, not {first}", "from")
    return 1 if first is None else first


def check_range(first: int | None, last: int | None, head: int) -> tuple[int, int]:
    """The inclusive range to work on; ``last`` defaults to ``head`` (the chain's position)."""
    start = check_from(first)
    end = head if last is None else last
    if last is not None and end < start:
        raise AuditRangeError(f"to ({end}) is before from ({start})", "to")
    span = end - start + 1
    if span > MAX_RANGE:
        raise AuditRangeError(
            f"the range {start:,} to {end:,} spans {span:,} positions; one page covers at most "
            f"{MAX_RANGE:,}: pass from and to to page through it",
            "to" if last is not None else "from",
            "RANGE_TOO_WIDE",
        )
    return start, end


def chained_position(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT position FROM projection_tracking WHERE name = %s", (AuditChain.name,)
    ).fetchone()
    return int(row[0]) if row else 0


def _anchor(conn: psycopg.Connection[Any], first: int) -> bytes:
    row = conn.execute(
        "SELECT hash FROM audit_chain WHERE position < %s ORDER BY position DESC LIMIT 1",
        (first,),
    ).fetchone()
    return bytes(row[0]) if row else GENESIS


def _checkpoints(conn: psycopg.Connection[Any], first: int, last: int) -> list[Checkpoint]:
    rows = conn.execute(
        "SELECT position, entries, hash, recorded_at FROM audit_checkpoints "
        "WHERE position BETWEEN %s AND %s ORDER BY position",
        (first, last),
    ).fetchall()
    return [Checkpoint(r[0], r[1], bytes(r[2]), r[3]) for r in rows]


def _last_checkpoint(conn: psycopg.Connection[Any], last: int) -> Checkpoint | None:
    r = conn.execute(
        "SELECT position, entries, hash, recorded_at FROM audit_checkpoints "
        "WHERE position <= %s ORDER BY position DESC LIMIT 1",
        (last,),
    ).fetchone()
    return Checkpoint(r[0], r[1], bytes(r[2]), r[3]) if r else None


# The log's stored events and the chain's rows for one window of positions, side by side: a
# position missing on either side shows as NULLs there (a deleted or an inserted event).
_WINDOW = """
SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state,
       c.position, c.originator_id, c.originator_version, c.topic, c.state_sha256, c.hash
FROM (SELECT notification_id, originator_id, originator_version, topic, state FROM {events}
      WHERE notification_id > %(after)s AND notification_id <= %(upper)s) e
FULL JOIN (SELECT position, originator_id, originator_version, topic, state_sha256, hash
           FROM audit_chain WHERE position > %(after)s AND position <= %(upper)s) c
     ON c.position = e.notification_id
ORDER BY coalesce(e.notification_id, c.position)
"""


@dataclass(frozen=True)
class _Stored:
    """A stored event as the log holds it (the fields the chain covers)."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def _pages(
    app: Perfledger, conn: psycopg.Connection[Any], first: int, last: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Window by window of positions, the joined rows of ``_WINDOW``; the next window is read
    (on a thread, while PostgreSQL and the network do the work) as this one is checked."""
    query = _WINDOW.format(events=events_table(app))

    def read(after: int) -> list[tuple[Any, ...]]:
        # Binary results: bytea arrives as bytes, with no hex text to decode.
        return (
            conn.cursor(binary=True)
            .execute(query, {"after": after, "upper": min(after + PAGE, last)})
            .fetchall()
        )

    with ThreadPoolExecutor(1, thread_name_prefix="verify-read") as reader:
        after = first - 1
        pending = reader.submit(read, after) if after < last else None
        while pending is not None:
            rows = pending.result()
            after = min(after + PAGE, last)
            pending = reader.submit(read, after) if after < last else None
            yield rows


def _short(digest: bytes) -> str:
    return digest.hex()[:16] + "…"


def _compare(n: Any, row: tuple[Any, ...]) -> tuple[tuple[str, ...], list[str]]:
    _, originator_id, originator_version, topic, state_sha256, _ = row
    fields: list[str] = []
    words: list[str] = []
    if str(n.originator_id) != originator_id:
        fields.append("originator_id")
        words.append(f"originator id: chained {originator_id}, the log has {n.originator_id}")
    if n.originator_version != originator_version:
        fields.append("originator_version")
        words.append(
            f"originator version: chained {originator_version}, the log has {n.originator_version}"
        )
    if (n.topic or "") != topic:
        fields.append("topic")
        words.append(f"topic: chained {topic}, the log has {n.topic}")
    now = hashlib.sha256(n.state).digest()
    if now != bytes(state_sha256):
        fields.append("state")
        words.append(
            f"state: the chained bytes hash to sha256 {_short(bytes(state_sha256))}, the "
            f"log's {len(n.state)} bytes now hash to {_short(now)}"
        )
    return tuple(fields), words


def verify(app: Perfledger, conn: psycopg.Connection[Any], first: int, last: int) -> Verification:
    """Check positions ``first``..``last`` (already range-checked) of the log against the chain."""
    head = chained_position(conn)
    stop = min(last, head)
    previous = anchor = _anchor(conn, first)
    checkpoints = {c.position: c for c in _checkpoints(conn, first, stop)}
    checked = checkpoints_checked = 0
    broken: Break | None = None

    def result(end: int) -> Verification:
        return Verification(
            first,
            end,
            checked,
            head,
            broken,
            _last_checkpoint(conn, end),
            checkpoints_checked,
            previous if checked else anchor,
        )

    for rows in _pages(app, conn, first, stop):
        for r in rows:
            if r[5] is None:
                broken = Break(
                    r[0],
                    ("event",),
                    f"the log has an event at position {r[0]} that the chain never recorded "
                    "(inserted after its position was chained)",
                )
                return result(r[0])
            if r[0] is None:
                broken = Break(
                    r[5],
                    ("event",),
                    f"the event chained at position {r[5]} ({r[8]}, originator "
                    f"{r[6]} version {r[7]}) is missing from the log (deleted)",
                )
                return result(r[5])
            n = r[0]
            recomputed = link_entry(previous, n, r[1], r[2], r[3] or "", r[4])
            if recomputed != r[10]:
                # Only a mismatch is worth the comparison that names the field.
                fields, words = _compare(_Stored(n, r[1], r[2], r[3] or "", r[4]), r[5:])
                if fields:
                    broken = Break(n, fields, "; ".join(words))
                    return result(n)
                broken = Break(
                    n,
                    ("hash",),
                    f"the chain's stored hash {_short(bytes(r[10]))} differs from the hash "
                    f"recomputed from the log, {_short(recomputed)}, though the event matches "
                    "what was chained: the chain row was altered, or an entry before it was "
                    "removed from both the log and the chain",
                )
                return result(n)
            checkpoint = checkpoints.get(n)
            if checkpoint is not None:
                if checkpoint.hash != recomputed:
                    broken = Break(
                        n,
                        ("checkpoint",),
                        f"the checkpoint recorded at {checkpoint.recorded_at.isoformat()} has "
                        f"hash {_short(checkpoint.hash)}, the log and chain give "
                        f"{_short(recomputed)}: the chain up to here was rewritten",
                    )
                    return result(n)
                checkpoints_checked += 1
            previous = recomputed
            checked += 1
    return result(max(stop, first - 1))


def _event_time(app: Perfledger, n: Any) -> str | None:
    """When the event happened, from its (encrypted) state; None when it no longer decodes."""
    mapper = app.mapper
    try:
        state = n.state
        if mapper.cipher is not None:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor is not None:
            state = mapper.compressor.decompress(state)
        timestamp = mapper.transcoder.decode(state).get("timestamp")
    except Exception:  # a tampered or foreign state: the export still shows its bytes
        return None
    return timestamp.isoformat() if isinstance(timestamp, datetime) else None


@dataclass
class Export:
    directory: Path
    first: int
    last: int
    count: int
    manifest: dict[str, Any] = field(default_factory=dict)


def tool_version() -> str:
    try:
        return f"perfledger {version('perfledger')}"
    except PackageNotFoundError:
        return "perfledger (not installed)"


def export(
    app: Perfledger, conn: psycopg.Connection[Any], first: int, last: int, directory: Path
) -> Export:
    """Write positions ``first``..``last`` (range-checked, all chained) as trail.jsonl and
    manifest.json: the log's bytes as stored now, with the hashes the chain recorded."""
    directory.mkdir(parents=True, exist_ok=True)
    trail = directory / "trail.jsonl"
    manifest_path = directory / "manifest.json"
    for path in (trail, manifest_path):
        if path.exists():
            raise AuditRangeError(f"{path} exists; export into an empty directory", "out")
    anchor = previous = _anchor(conn, first)
    digest = hashlib.sha256()
    count = 0
    first_hash: str | None = None
    with trail.open("wb") as out:
        for rows in _pages(app, conn, first, last):
            for r in rows:
                chained = None if r[5] is None else bytes(r[10])
                if r[0] is not None:
                    # A line's previous hash is the chain's entry before it, even where the log
                    # lost that entry: a deleted event then shows as a broken link in the export.
                    n = _Stored(r[0], r[1], r[2], r[3] or "", r[4])
                    stored = None if chained is None else chained.hex()
                    line = {
                        "position": n.id,
                        "time": _event_time(app, n),
                        "originator_id": n.originator_id,
                        "originator_version": n.originator_version,
                        "topic": r[3],
                        "state": base64.b64encode(n.state).decode("ascii"),
                        "previous_hash": previous.hex(),
                        "hash": stored,
                    }
                    data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
                    out.write(data)
                    digest.update(data)
                    count += 1
                    if count == 1:
                        first_hash = stored
                if chained is not None:
                    previous = chained
    manifest = {
        "format": EXPORT_FORMAT,
        "tool_version": tool_version(),
        "exported_at": datetime.now(UTC).isoformat(),
        "from": first,
        "to": last,
        "count": count,
        "chain": {
            "algorithm": "sha256",
            "genesis": GENESIS.hex(),
            "hash": "sha256(previous_hash || entry); entry = position (u64 BE) || "
            "originator_version (u64 BE) || for originator_id, topic, state: "
            "length (u32 BE) || bytes (ids and topics UTF-8)",
        },
        "previous_hash": anchor.hex(),
        "first_hash": first_hash,
        "last_hash": previous.hex() if previous != anchor else None,
        "checkpoints": [c.as_json() for c in _checkpoints(conn, first, last)],
        "trail_sha256": digest.hexdigest(),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return Export(directory, first, last, count, manifest)


# The command line (service/cli.py delegates here).


def _connections(settings: Settings) -> tuple[db.Database, Perfledger, psycopg.Connection[Any]]:
    database = db.resolve(settings.database_url, settings.data_dir)
    app = open_log(database, settings)
    return database, app, psycopg.connect(database.psycopg_conninfo(), autocommit=True)


def bring_chain_up_to_date(app: Perfledger, database: db.Database) -> None:
    """Chain what is not chained yet, unless a running service's builder is doing it."""
    import asyncio

    chain = build_audit_chain(app, database)

    async def run() -> None:
        lock = await chain.connect()
        try:
            await chain.create_schema(lock)
            if await chain.try_lock(lock):
                await chain.catch_up(lock)
        finally:
            await lock.close()

    asyncio.run(run())


def verify_main(settings: Settings, first: int | None, last: int | None) -> int:
    database, app, conn = _connections(settings)
    try:
        bring_chain_up_to_date(app, database)
        head = chained_position(conn)
        # Without --to, the whole chain from --from on, one page after another.
        paging = last is None
        if paging:
            start, end = check_from(first), head
        else:
            start, end = check_range(first, last, head)
        checked = checkpoints = 0
        result: Verification | None = None
        page_start = start
        while True:
            page_end = min(end, page_start + MAX_RANGE - 1)
            result = verify(app, conn, page_start, page_end)
            checked += result.checked
            checkpoints += result.checkpoints_checked
            if not result.intact or page_end >= end:
                break
            page_start = page_end + 1
        assert result is not None
    except AuditRangeError as error:
        print(f"perfledger: {error.message}", file=sys.stderr)
        return 2
    finally:
        conn.close()
        app.close()
    if result.broken is not None:
        print(
            f"The chain breaks at position {result.broken.position:,} "
            f"({', '.join(result.broken.fields)} differs): {result.broken.difference}."
        )
        print(f"{checked:,} entries before it check out.")
        return 1
    checkpoint = result.last_checkpoint
    print(
        f"Checked {checked:,} entries (positions {start:,} to {result.last:,}, "
        f"{checkpoints:,} checkpoints among them): the chain is intact."
        + (
            f" Last checkpoint: position {checkpoint.position:,}, hash {checkpoint.hash.hex()}, "
            f"recorded {checkpoint.recorded_at.isoformat()}."
            if checkpoint
            else ""
        )
    )
    if last is not None and last > head:
        print(f"Positions after {head:,} are not chained yet and were not checked.")
    return 0


def export_main(settings: Settings, first: int | None, last: int | None, out: Path) -> int:
    database, app, conn = _connections(settings)
    try:
        bring_chain_up_to_date(app, database)
        head = chained_position(conn)
        start, end = check_range(first, last, head)
        if end > head:
            raise AuditRangeError(
                f"to ({end:,}) is past the chain's position ({head:,}): later events are not "
                "chained yet",
                "to",
            )
        written = export(app, conn, start, end, out)
    except AuditRangeError as error:
        print(f"perfledger: {error.message}", file=sys.stderr)
        return 2
    finally:
        conn.close()
        app.close()
    print(
        f"Exported {written.count:,} entries (positions {start:,} to {end:,}) to "
        f"{out / 'trail.jsonl'} with {out / 'manifest.json'}; check it with "
        f"python3 tools/verify_export.py {out}"
    )
    return 0
