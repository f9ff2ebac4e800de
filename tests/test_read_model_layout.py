"""A release that changes the read models' tables rebuilds them from the log by itself, and the
membership history answers who belonged to a department at any position."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from projections.organisation import MEMBERS_AS_OF
from projections.projector import Projector
from service.application import Perfledger, department_id_for
from service.bootstrap import build
from service.database import Database
from tests.conftest import make_settings
from tests.helpers import HR, catch_up, position, small_org


async def test_changed_table_layout_rebuilds_the_read_models(
    app: Perfledger, database: Database
) -> None:
    org = small_org(app)
    services = await build(make_settings(), database)
    try:
        await catch_up(services)
        conn = await asyncpg.connect(**database.asyncpg_kwargs())
        try:
            employees = await conn.fetchval("SELECT count(*) FROM employees")
            assert employees > 0
            # As if an older release had built the tables: its layout digest differs.
            await conn.execute(
                "UPDATE projection_tracking SET schema_digest = 'older' WHERE name = 'read_models'"
            )
            await conn.execute("ALTER TABLE employees ADD COLUMN leftover text")
            assert await Projector().create_schema(conn) is True
            assert await conn.fetchval("SELECT count(*) FROM employees") == 0
            tracked = await conn.fetchrow(
                "SELECT position, schema_digest FROM projection_tracking WHERE name = 'read_models'"
            )
            assert tracked["position"] == 0
            assert tracked["schema_digest"] == Projector().schema_digest
            columns = await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'employees'"
            )
            assert "leftover" not in {c["column_name"] for c in columns}
            # The same layout again: nothing is dropped.
            assert await Projector().create_schema(conn) is False
        finally:
            await conn.close()
        services.projector.forget()
        await catch_up(services)
        conn = await asyncpg.connect(**database.asyncpg_kwargs())
        try:
            assert await conn.fetchval("SELECT count(*) FROM employees") == employees
        finally:
            await conn.close()
    finally:
        await services.stop()
    assert org


async def test_department_members_as_of_any_position(app: Perfledger, database: Database) -> None:
    org = small_org(app)
    app.open_department(HR, code="OPS", name="Operations", parent_id=None)
    ops = department_id_for("OPS")
    before = position(app)
    app.transfer_employee(HR, org.bob, ops, date(2026, 3, 1))
    after = position(app)
    app.transfer_employee(HR, org.bob, org.sales, date(2026, 4, 1))
    back = position(app)
    services = await build(make_settings(), database)
    try:
        await catch_up(services)
        conn = await asyncpg.connect(**database.asyncpg_kwargs())
        try:

            async def members(department: UUID, at: int) -> set[UUID]:
                rows = await conn.fetch(MEMBERS_AS_OF, [department], at)
                return {UUID(str(r["employee_id"])) for r in rows}

            assert await members(org.sales, before) == {org.boss, org.alice, org.bob}
            assert await members(ops, before) == set()
            assert await members(org.sales, after) == {org.boss, org.alice}
            assert await members(ops, after) == {org.bob}
            assert await members(ops, back) == set()
            assert org.bob in await members(org.sales, back)
            assert await members(org.sales, 1) == set()  # before anyone was hired
        finally:
            await conn.close()
    finally:
        await services.stop()
