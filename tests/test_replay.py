"""``perfledger replay``: every read model as of a past position, in a schema of its own, equal
to what the live read models held when the log ended there; the live ones stay untouched."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from domain.provenance import Provenance, Role
from service.application import Perfledger
from service.bootstrap import Services, build
from service.cipher import SecretBox
from service.cli import main
from service.database import Database
from service.replay import ReplayError, drop, replay
from service.seed import seed_organisation
from tests.conftest import make_settings
from tests.helpers import catch_up, position

HR = Provenance("hr-1", Role.HR, "test", "replay check")


async def tables(conn: asyncpg.Connection, services: Services, schema: str) -> dict[str, Any]:
    """Every read-model table's rows, sorted, with sealed text opened (sealing uses a fresh
    nonce each time, so equal text seals to different bytes)."""
    box: SecretBox = services.secrets
    found: dict[str, Any] = {}
    for table in services.projector.tables:
        rows = await conn.fetch(f'SELECT * FROM "{schema}"."{table}"')
        found[table] = sorted(
            (
                tuple((k, box.open(v) if isinstance(v, bytes) else v) for k, v in dict(r).items())
                for r in rows
            ),
            key=repr,
        )
    return found


async def test_replay_until_a_position_equals_the_read_models_live_there(
    app: Perfledger, database: Database
) -> None:
    seed_organisation(app, employees=12, seed=3, through=date(2026, 5, 31))
    settings = make_settings()
    services = await build(settings, database)
    try:
        await catch_up(services)
        p = position(app)
        conn = await asyncpg.connect(**database.asyncpg_kwargs())
        try:
            then = await tables(conn, services, "public")
            assert sum(len(rows) for rows in then.values()) > 500
            # History goes on: a correction, a transfer, a rule adoption.
            goal = await conn.fetchval(
                "SELECT id FROM goals WHERE status = 'open' AND period = '2026' ORDER BY id LIMIT 1"
            )
            app.record_progress(HR, UUID(str(goal)), Decimal(1), date(2026, 5, 31), "fix")
            someone, elsewhere = await conn.fetchrow(
                "SELECT e.id, d.id FROM employees e JOIN departments d ON d.id <> e.department_id "
                "ORDER BY e.code, d.code LIMIT 1"
            )
            app.transfer_employee(HR, UUID(str(someone)), UUID(str(elsewhere)), date(2026, 6, 1))
            await catch_up(services)
            live_position = await conn.fetchval(
                "SELECT position FROM projection_tracking WHERE name = 'read_models'"
            )
            assert live_position > p
            now = await tables(conn, services, "public")
            assert now != then

            name, point, events = await replay(
                settings, until=None, position=p, schema=None, database=database
            )
            assert (name, point.position) == (f"replay_{p}", p)
            assert events > 0
            assert await tables(conn, services, name) == then
            info = await conn.fetchrow(f"SELECT * FROM {name}.replay_info")
            assert info["position"] == p
            # the live read models are as they were
            assert await tables(conn, services, "public") == now
            assert (
                await conn.fetchval(
                    "SELECT position FROM projection_tracking WHERE name = 'read_models'"
                )
                == live_position
            )

            # the same moment by its time
            by_time, point_t, _ = await replay(
                settings,
                until=point.recorded_at,
                position=None,
                schema="at_time",
                database=database,
            )
            assert point_t.position == p
            assert await tables(conn, services, by_time) == then

            # refusals: an existing schema, a bad name, dropping what is not a replay
            with pytest.raises(ReplayError, match="already exists"):
                await replay(settings, until=None, position=p, schema=None, database=database)
            with pytest.raises(ReplayError, match="lower-case"):
                await replay(settings, until=None, position=p, schema="Bad-Name", database=database)
            with pytest.raises(ReplayError, match="lower-case"):
                await replay(settings, until=None, position=p, schema="public", database=database)
            with pytest.raises(ReplayError, match="not a replay schema"):
                await drop(settings, "public", database)
            await drop(settings, name, database)
            assert not await conn.fetchval(
                "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", name
            )
        finally:
            await conn.close()
    finally:
        await services.stop()


def test_replay_command_line_errors_are_clear(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--until", "2026-06-30T12:00:00"])
    assert "needs a time zone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay", "--until", "yesterday"])
    assert "is not an ISO 8601 time" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["replay"])
    assert "one of the arguments" in capsys.readouterr().err
