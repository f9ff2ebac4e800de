"""``perfledger replay``: every read model rebuilt as of a past moment, into a schema of its own.

For an auditor who wants the whole organisation as it stood at the end of a quarter, not one
person's scorecard: the log up to the position is replayed through the same projection code into
``replay_<position>`` (or a name of their choosing), next to the live read models, which are not
touched. The schema's ``replay_info`` row says what it holds. Query it with
``SET search_path TO replay_...``; drop it with ``perfledger replay --drop NAME``.
"""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import datetime

from domain.errors import DomainError
from projections.projector import Projector
from service.as_of import AsOfPoint, resolve_point
from service.bootstrap import build, build_runner
from service.database import Database
from service.settings import Settings

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = {"public", "information_schema", "pg_catalog", "pg_toast"}

INFO_DDL = """
CREATE TABLE replay_info (
    position bigint NOT NULL,
    recorded_at timestamptz NOT NULL,
    asked_for text NOT NULL,
    replayed_at timestamptz NOT NULL DEFAULT now(),
    events integer NOT NULL
)
"""


class ReplayError(DomainError):
    code = "REPLAY_REFUSED"


def schema_name(name: str | None, point: AsOfPoint) -> str:
    chosen = name or f"replay_{point.position}"
    if not SCHEMA_NAME.match(chosen) or chosen in RESERVED or chosen.startswith("pg_"):
        raise ReplayError(
            f"schema name {chosen!r} must be lower-case letters, digits and underscores "
            "(at most 63, not starting with a digit) and not a system or the live schema",
            field="schema",
        )
    return chosen


async def replay(
    settings: Settings,
    *,
    until: datetime | None,
    position: int | None,
    schema: str | None,
    database: Database | None = None,
) -> tuple[str, AsOfPoint, int]:
    """Replay into a new schema; returns its name, the point and how many events it took."""
    services = await build(settings.with_(run_projections=False), database)
    try:
        conn = await services.connect()
        try:
            head = await services.projector.tracked_position(conn)
            log_head = await asyncio.to_thread(services.app.recorder.max_notification_id) or 0
            point = await resolve_point(conn, until, position, head)
            if head < log_head and until is not None and point.position == head:
                raise ReplayError(
                    f"the live read models reach position {head:,} of {log_head:,}, so times "
                    "after it cannot be placed yet: start the service or `perfledger project`",
                    field="until",
                )
            name = schema_name(schema, point)
            if await conn.fetchval(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", name
            ):
                raise ReplayError(
                    f"schema {name} already exists; drop it first (perfledger replay --drop "
                    f"{name}) or choose another --schema",
                    field="schema",
                )
            await conn.execute(f'CREATE SCHEMA "{name}"')
            try:
                await conn.execute(f'SET search_path TO "{name}"')
                projector = Projector(services.secrets)
                projector.announce = False
                await projector.create_schema(conn)
                runner = build_runner(
                    services.app, projector, services.database, settings.projection_batch
                )
                result = await runner.catch_up(conn, until=point.position)
                await conn.execute(INFO_DDL)
                await conn.execute(
                    "INSERT INTO replay_info (position, recorded_at, asked_for, events) "
                    "VALUES ($1, $2, $3, $4)",
                    point.position,
                    point.recorded_at,
                    until.isoformat() if until is not None else f"position {position}",
                    result.events,
                )
            except BaseException:
                await conn.execute("RESET search_path")
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
                raise
            return name, point, result.events
        finally:
            await conn.close()
    finally:
        await services.stop()


async def drop(settings: Settings, name: str, database: Database | None = None) -> None:
    if not SCHEMA_NAME.match(name):
        raise ReplayError(f"{name!r} is not a schema name", field="drop")
    services = await build(settings.with_(run_projections=False), database)
    try:
        conn = await services.connect()
        try:
            holds_replay = await conn.fetchval(
                "SELECT 1 FROM information_schema.tables "
                "WHERE table_schema = $1 AND table_name = 'replay_info'",
                name,
            )
            if not holds_replay:
                raise ReplayError(f"{name} is not a replay schema (no replay_info)", field="drop")
            await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        finally:
            await conn.close()
    finally:
        await services.stop()


def main(
    settings: Settings,
    until: datetime | None,
    position: int | None,
    schema: str | None,
    drop_name: str | None,
) -> int:
    try:
        if drop_name is not None:
            asyncio.run(drop(settings, drop_name))
            print(f"Dropped replay schema {drop_name}.")
            return 0
        if until is None and position is None:
            print("perfledger replay: give --until TIME or --position P", file=sys.stderr)
            return 2
        name, point, events = asyncio.run(
            replay(settings, until=until, position=position, schema=schema)
        )
    except DomainError as error:
        print(f"perfledger replay: {error.message}", file=sys.stderr)
        return 2
    print(
        f"Replayed {events:,} events up to position {point.position:,} (recorded "
        f"{point.recorded_at.isoformat()}) into schema {name}; the live read models are "
        f'untouched. Query it with SET search_path TO "{name}".'
    )
    return 0
