"""Tamper evidence: the hash chain over the log, the append-only guard, and verification that
pinpoints an event altered or deleted behind the guard's back (as a superuser)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from domain.provenance import Role
from projections.audit_chain import GENESIS, link
from service.audit import (
    MAX_RANGE,
    AuditRangeError,
    Verification,
    build_audit_chain,
    check_range,
    events_table,
    verify,
)
from service.bootstrap import Services, build_application
from service.database import Database
from tests.conftest import make_settings
from tests.e2e import running
from tests.helpers import HR, set_goal, small_org

EVENTS = "perfledger_events"


@pytest.fixture
def superuser(services: Services) -> Iterator[psycopg.Connection[Any]]:
    """The test database's user is a superuser: the one role that can get past the guard."""
    with psycopg.connect(services.database.psycopg_conninfo(), autocommit=True) as conn:
        yield conn


async def chained_org(services: Services, checkpoint_every: int = 4) -> int:
    """Record a small organisation with goals, chain it; return the last position."""
    org = await services.call(small_org, services.app)
    for owner in (org.alice, org.bob):
        await services.call(set_goal, services.app, owner)
    chain = services.audit_chain
    assert chain is not None
    chain.checkpoint_every = checkpoint_every
    conn = await services.connect()
    try:
        await chain.catch_up(conn)
    finally:
        await conn.close()
    last = services.app.recorder.max_notification_id()
    assert last is not None
    assert last > 8
    return last


def verified(services: Services, conn: psycopg.Connection[Any]) -> Verification:
    head = conn.execute("SELECT position FROM projection_tracking WHERE name = 'audit_chain'")
    row = head.fetchone()
    assert row is not None
    return verify(services.app, conn, *check_range(None, None, row[0]))


def tamper(conn: psycopg.Connection[Any], statement: str, *args: object) -> None:
    """Run ``statement`` with triggers off, as only a superuser can."""
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(statement, args)


async def test_the_chain_links_every_stored_event_in_log_order_with_checkpoints(
    services: Services, superuser: psycopg.Connection[Any]
) -> None:
    last = await chained_org(services)
    log = services.app.recorder.select_notifications(1, last + 10)
    rows = superuser.execute("SELECT position, hash FROM audit_chain ORDER BY position").fetchall()
    assert [r[0] for r in rows] == [n.id for n in log]
    previous = GENESIS
    for n, (_, stored) in zip(log, rows, strict=True):
        # Recomputed from the stored (encrypted) bytes, independently of the builder.
        expected = hashlib.sha256(
            previous
            + n.id.to_bytes(8, "big")
            + n.originator_version.to_bytes(8, "big")
            + len(str(n.originator_id)).to_bytes(4, "big")
            + str(n.originator_id).encode()
            + len(n.topic.encode()).to_bytes(4, "big")
            + n.topic.encode()
            + len(n.state).to_bytes(4, "big")
            + n.state
        ).digest()
        assert bytes(stored) == expected == link(previous, n)
        previous = expected
    checkpoints = superuser.execute(
        "SELECT position, entries, hash FROM audit_checkpoints ORDER BY position"
    ).fetchall()
    hashes = {r[0]: bytes(r[1]) for r in rows}
    assert [c[1] for c in checkpoints[: len(log) // 4]] == [
        4 * k for k in range(1, len(log) // 4 + 1)
    ]
    assert all(bytes(c[2]) == hashes[c[0]] for c in checkpoints)

    result = verified(services, superuser)
    assert result.intact
    assert result.checked == len(log)
    assert result.last_checkpoint is not None
    assert result.checkpoints_checked == len(checkpoints)


async def test_new_events_extend_the_chain_where_it_stopped(services: Services) -> None:
    last = await chained_org(services)
    chain = services.audit_chain
    assert chain is not None
    before = chain.last_hash
    chain.forget()  # as a restarted builder: it reloads its place from the database
    await services.call(services.app.open_department, HR, code="HR", name="People", parent_id=None)
    conn = await services.connect()
    try:
        caught = await chain.catch_up(conn)
    finally:
        await conn.close()
    assert caught.entries == 1
    (newest,) = services.app.recorder.select_notifications(last + 1, 1)
    assert chain.last_hash == link(before, newest)


@pytest.mark.parametrize("table", [EVENTS, "audit_chain", "audit_checkpoints"])
async def test_the_log_and_the_chain_refuse_update_delete_and_truncate(
    services: Services, superuser: psycopg.Connection[Any], table: str
) -> None:
    await chained_org(services)
    column = "topic" if table == EVENTS else "hash"
    ident = sql.Identifier(table)
    for statement, operation in (
        (
            sql.SQL("UPDATE {} SET {} = {}").format(
                ident, sql.Identifier(column), sql.Identifier(column)
            ),
            "UPDATE",
        ),
        (sql.SQL("DELETE FROM {}").format(ident), "DELETE"),
        (sql.SQL("TRUNCATE {}").format(ident), "TRUNCATE"),
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
            superuser.execute(statement)
        assert f"{operation} on public.{table} is refused: the table is append-only" in str(
            refused.value
        )
    assert superuser.execute(sql.SQL("SELECT count(*) FROM {}").format(ident)).fetchone() != (0,)


async def test_installing_the_guard_again_changes_nothing(
    services: Services, superuser: psycopg.Connection[Any]
) -> None:
    chain = services.audit_chain
    assert chain is not None
    conn = await services.connect()
    try:
        await chain.create_schema(conn)  # as a second service start does
    finally:
        await conn.close()
    triggers = superuser.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass ORDER BY tgname",
        (events_table(services.app),),
    ).fetchall()
    assert triggers == [("perfledger_append_only",), ("perfledger_no_truncate",)]


async def test_state_bytes_altered_in_sql_are_pinpointed_at_their_position(
    services: Services, superuser: psycopg.Connection[Any]
) -> None:
    last = await chained_org(services)
    target = 6
    tamper(
        superuser,
        "UPDATE perfledger_events SET state = overlay(state PLACING '\\xff'::bytea FROM 20 FOR 1) "
        "WHERE notification_id = %s",
        target,
    )
    result = verified(services, superuser)
    assert not result.intact
    assert result.broken is not None
    assert result.broken.position == target
    assert result.broken.fields == ("state",)
    assert "state" in result.broken.difference
    assert result.checked == target - 1
    assert last > target


async def test_an_altered_version_is_named_as_the_field_that_differs(
    services: Services, superuser: psycopg.Connection[Any]
) -> None:
    await chained_org(services)
    tamper(
        superuser,
        "UPDATE perfledger_events SET originator_version = originator_version + 100 "
        "WHERE notification_id = 3",
    )
    result = verified(services, superuser)
    assert result.broken is not None
    assert (result.broken.position, result.broken.fields) == (3, ("originator_version",))


async def test_a_deleted_event_is_reported_at_its_position(
    services: Services, superuser: psycopg.Connection[Any]
) -> None:
    await chained_org(services)
    tamper(superuser, "DELETE FROM perfledger_events WHERE notification_id = 5")
    result = verified(services, superuser)
    assert result.broken is not None
    assert (result.broken.position, result.broken.fields) == (5, ("event",))
    assert "missing from the log" in result.broken.difference
    assert result.checked == 4


async def test_a_chain_rewritten_to_match_an_altered_event_is_caught_at_the_next_checkpoint(
    services: Services, superuser: psycopg.Connection[Any]
) -> None:
    await chained_org(services, checkpoint_every=4)
    tamper(
        superuser,
        "UPDATE perfledger_events SET state = overlay(state PLACING '\\x00'::bytea FROM 20 FOR 1) "
        "WHERE notification_id = 2",
    )
    # The forger recomputes the chain from the altered event on, but not the checkpoints.
    log = services.app.recorder.select_notifications(1, 1000)
    previous = GENESIS
    for n in log:
        previous = link(previous, n)
        tamper(
            superuser,
            "UPDATE audit_chain SET hash = %s, state_sha256 = %s WHERE position = %s",
            previous,
            hashlib.sha256(n.state).digest(),
            n.id,
        )
    result = verified(services, superuser)
    assert result.broken is not None
    assert (result.broken.position, result.broken.fields) == (4, ("checkpoint",))


def test_ranges_wider_than_a_page_or_backwards_are_refused_naming_the_input() -> None:
    with pytest.raises(AuditRangeError) as wide:
        check_range(1, MAX_RANGE + 1, MAX_RANGE + 5)
    assert (wide.value.code, wide.value.field) == ("RANGE_TOO_WIDE", "to")
    assert "at most 1,000,000" in wide.value.message
    with pytest.raises(AuditRangeError) as backwards:
        check_range(10, 5, 100)
    assert backwards.value.field == "to"
    with pytest.raises(AuditRangeError) as zero:
        check_range(0, 5, 100)
    assert zero.value.field == "from"
    assert check_range(None, None, 42) == (1, 42)
    assert check_range(MAX_RANGE + 1, None, 2 * MAX_RANGE) == (MAX_RANGE + 1, 2 * MAX_RANGE)


STATUS = """
query($from: Int, $to: Int) {
  auditChainStatus(fromPosition: $from, toPosition: $to) {
    fromPosition toPosition chainedPosition checked intact firstBrokenPosition
    differingFields difference lastCheckpoint { position entries hash recordedAt }
  }
}"""


async def test_auditors_hr_and_admins_verify_the_chain_over_graphql_and_nobody_else(
    database: Database,
) -> None:
    settings = make_settings(run_projections=True)
    writer = build_application(database, settings)
    try:
        small_org(writer)
        last = writer.recorder.max_notification_id()
    finally:
        writer.close()
    async with running(settings, database) as server:
        for _ in range(100):
            result = await server.graphql(STATUS, role=Role.AUDITOR)
            assert "errors" not in result, result
            status = result["data"]["auditChainStatus"]
            if status["chainedPosition"] == last:
                break
            await asyncio.sleep(0.1)
        assert status["intact"] is True
        assert status["checked"] == last
        assert status["firstBrokenPosition"] is None
        assert status["lastCheckpoint"]["position"] == last  # the first batch is checkpointed
        for role in (Role.HR, Role.ADMIN):
            allowed = await server.graphql(STATUS, role=role)
            assert allowed["data"]["auditChainStatus"]["intact"] is True
        for role in (Role.EMPLOYEE, Role.MANAGER):
            refused = await server.graphql(STATUS, role=role)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert refused["data"] is None
        wide = await server.graphql(STATUS, {"from": 1, "to": MAX_RANGE + 1}, role=Role.AUDITOR)
        assert wide["errors"][0]["extensions"]["code"] == "RANGE_TOO_WIDE"
        assert "toPosition" in wide["errors"][0]["message"]

        with psycopg.connect(database.psycopg_conninfo(), autocommit=True) as superuser:
            tamper(
                superuser,
                "UPDATE perfledger_events SET topic = topic || 'x' WHERE notification_id = 2",
            )
        broken = (await server.graphql(STATUS, role=Role.AUDITOR))["data"]["auditChainStatus"]
        assert broken["intact"] is False
        assert broken["firstBrokenPosition"] == 2
        assert broken["differingFields"] == ["topic"]
        assert broken["checked"] == 1


SERVICE_GRANTS = (
    # What README "Tamper evidence" asks of a deployment's service role. UPDATE on the events
    # table only because the library's LOCK TABLE ... IN EXCLUSIVE MODE requires it.
    "GRANT CREATE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON perfledger_events TO {role}",
    "GRANT SELECT, INSERT ON perfledger_snapshots, audit_chain, audit_checkpoints TO {role}",
    "GRANT SELECT, INSERT, UPDATE ON projection_tracking TO {role}",
    "GRANT USAGE ON SEQUENCE perfledger_events_notification_id_seq TO {role}",
)


async def test_a_service_role_records_and_chains_but_cannot_rewrite_or_unguard_the_log(
    services: Services, superuser: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    role = f"svc_{services.database.dbname}"
    superuser.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'pw'").format(sql.Identifier(role)))
    try:
        for grant in SERVICE_GRANTS:
            superuser.execute(sql.SQL(grant).format(role=sql.Identifier(role)))
        limited = Database(
            services.database.host, services.database.port, role, "pw", services.database.dbname
        )
        monkeypatch.setenv("CREATE_TABLE", "n")  # the owner created the library's tables
        app = build_application(limited, make_settings())
        try:
            small_org(app)
            chain = build_audit_chain(app, limited)
            conn = await chain.connect()
            try:
                await chain.create_schema(conn)  # the triggers exist: nothing to install
                assert (await chain.catch_up(conn)).entries > 0
            finally:
                await conn.close()
        finally:
            app.close()
        with psycopg.connect(limited.psycopg_conninfo(), autocommit=True) as service:
            for statement, refusal in (
                ("UPDATE perfledger_events SET topic = topic", "is refused: the table is append"),
                ("DELETE FROM perfledger_events", "permission denied"),
                ("TRUNCATE perfledger_events", "permission denied"),
                ("UPDATE audit_chain SET hash = hash", "permission denied"),
                ("ALTER TABLE perfledger_events DISABLE TRIGGER ALL", "must be owner"),
                ("DROP TRIGGER perfledger_append_only ON perfledger_events", "must be owner"),
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege) as refused:
                    service.execute(statement)
                assert refusal in str(refused.value), statement
    finally:
        superuser.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        superuser.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
