"""Subscriptions end to end over a real websocket against the running service: updates arrive
with their positions after a mutation, follow the queries' visibility and the audit trail's
anonymity, refuse unauthenticated and unauthorised callers, close on malformed messages, drop a
subscriber that cannot keep up without holding back the others, and resume after a database
restart with nothing lost."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
import pytest

from domain.provenance import Role
from service import auth
from service.application import Perfledger
from service.bootstrap import build_application
from service.command_base import Receipt
from service.database import Database
from service.live.subscriber import TOO_SLOW
from tests.conftest import make_settings
from tests.e2e import Server, running
from tests.helpers import HR, Org, as_role, position, set_goal, small_org
from tests.live_client import Socket, opened
from tests.review_builders import cycle_definition, ratings

PROGRESS = """
mutation($input: RecordProgressInput!) {
  recordProgress(input: $input) {
    __typename
    ... on CommandAccepted { position id }
    ... on CommandRejected { code message }
  }
}"""
SCORECARDS = """
subscription($employee: ID, $department: ID, $after: Int) {
  scorecardUpdated(employeeId: $employee, departmentId: $department, afterPosition: $after) {
    position
    scorecard { ownerId period score position goals { goalId latestValue } }
  }
}"""
PROGRESSED = """
subscription($owner: ID, $after: Int) {
  goalProgressRecorded(ownerId: $owner, afterPosition: $after) {
    position goal { id ownerId latestValue latestAsOf }
  }
}"""
AT_RISK = """
subscription($owner: ID, $department: ID, $after: Int) {
  goalAtRisk(ownerId: $owner, departmentId: $department, afterPosition: $after) {
    position expectedProgress actualProgress threshold ruleSetVersion asOfDate goal { id }
  }
}"""
AUDIT_TAIL = """
subscription($after: Int, $employee: ID, $type: String) {
  auditTail(afterPosition: $after, employeeId: $employee, eventType: $type) {
    position eventType employeeIds actorId actorHidden raterKey reason summary
  }
}"""


@pytest.fixture
async def server(app: Perfledger, database: Database, org: Org) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=30.0)
    async with running(settings, database) as started:
        yield started


async def read_models_at(server: Server, app: Perfledger) -> int:
    """The read models' position once they reflect everything written so far."""
    body = await server.graphql(
        "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
        {"p": position(app)},
    )
    assert "errors" not in body, body
    found = await server.graphql("{ readModels { position } }")
    at: int = found["data"]["readModels"]["position"]
    return at


async def record(server: Server, goal: UUID, value: str, as_of: str) -> int:
    body = await server.graphql(
        PROGRESS, {"input": {"goalId": str(goal), "value": value, "asOf": as_of, "source": "crm"}}
    )
    result = body["data"]["recordProgress"]
    assert result["__typename"] == "CommandAccepted", result
    at: int = result["position"]
    return at


async def error_of(ws: Socket, operation: str) -> dict[str, Any]:
    """The GraphQL error a refused subscription ends with (then `complete`)."""
    payload = await ws.next(operation)
    assert payload["data"] is None, payload
    error: dict[str, Any] = payload["errors"][0]
    done = await ws.message(operation)
    assert done["type"] == "complete", done
    return error


async def test_a_measurement_recorded_over_graphql_arrives_with_its_position(
    app: Perfledger, server: Server, org: Org
) -> None:
    goal = set_goal(app, org.alice, weight=Decimal(100))  # 0 → 8 over 2026-Q1
    at = await read_models_at(server, app)
    async with opened(server, Role.EMPLOYEE, org.alice) as alice:
        cards = await alice.subscribe(SCORECARDS, {"employee": str(org.alice), "after": at})
        goals = await alice.subscribe(PROGRESSED, {"owner": str(org.alice), "after": at})
        risks = await alice.subscribe(AT_RISK, {"owner": str(org.alice), "after": at})
        # By 1 March, 60 of Q1's 90 days: 66.67 % is expected; 1 of 8 is 12.5 %: at risk.
        recorded = await record(server, goal, "1", "2026-03-01")

        card = (await alice.next(cards))["data"]["scorecardUpdated"]
        assert card["position"] == recorded
        assert card["scorecard"]["ownerId"] == str(org.alice)
        assert card["scorecard"]["score"] == "12.50"
        assert card["scorecard"]["goals"] == [{"goalId": str(goal), "latestValue": "1"}]

        progressed = (await alice.next(goals))["data"]["goalProgressRecorded"]
        assert progressed == {
            "position": recorded,
            "goal": {
                "id": str(goal),
                "ownerId": str(org.alice),
                "latestValue": "1",
                "latestAsOf": "2026-03-01",
            },
        }
        alert = (await alice.next(risks))["data"]["goalAtRisk"]
        assert alert == {
            "position": recorded,
            "expectedProgress": "66.67",
            "actualProgress": "12.50",
            "threshold": "15",
            "ruleSetVersion": 0,
            "asOfDate": "2026-03-01",
            "goal": {"id": str(goal)},
        }
        # Back on track (6 of 8 is 75 %): progress and scorecard, but no alert.
        later = await record(server, goal, "6", "2026-03-01")
        assert (await alice.next(goals))["data"]["goalProgressRecorded"]["position"] == later
        assert (await alice.next(cards))["data"]["scorecardUpdated"]["position"] == later

    # The manager's dashboard asks for the same alert: at risk as of 1 March it no longer is.
    listed = await server.graphql(
        "query($m: ID, $d: Date) { atRiskGoals(managerId: $m, asOfDate: $d) "
        "{ position goal { id } expectedProgress actualProgress } }",
        {"m": str(org.boss), "d": "2026-03-31"},
        role=Role.MANAGER,
        employee=org.boss,
    )
    # By 31 March all of the way is expected; 75 % trails by 25.
    assert listed["data"]["atRiskGoals"] == [
        {
            "position": later,
            "goal": {"id": str(goal)},
            "expectedProgress": "100.00",
            "actualProgress": "75.00",
        }
    ]


async def test_each_subscriber_receives_only_what_its_role_may_see(
    app: Perfledger, server: Server, org: Org
) -> None:
    alice_goal = set_goal(app, org.alice, weight=Decimal(100))
    bob_goal = set_goal(app, org.bob, weight=Decimal(100))
    at = await read_models_at(server, app)
    department = {"department": str(org.sales), "after": at}
    async with (
        opened(server, Role.EMPLOYEE, org.alice) as alice,
        opened(server, Role.MANAGER, org.boss) as boss,
    ):
        refused = await alice.subscribe(SCORECARDS, {"employee": str(org.bob)})
        error = await error_of(alice, refused)
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert str(org.bob) in error["message"]
        tail = await alice.subscribe(AUDIT_TAIL, {})
        assert "auditors, hr and admins" in (await error_of(alice, tail))["message"]

        # Alice follows her department: she receives her own scorecard, never Bob's.
        hers = await alice.subscribe(SCORECARDS, department)
        team = await boss.subscribe(SCORECARDS, department)
        bobs = await record(server, bob_goal, "2", "2026-02-01")
        alices = await record(server, alice_goal, "4", "2026-02-01")
        assert [(await boss.next(team))["data"]["scorecardUpdated"]["position"] for _ in "ab"] == [
            bobs,
            alices,
        ]
        mine = (await alice.next(hers))["data"]["scorecardUpdated"]
        assert (mine["position"], mine["scorecard"]["ownerId"]) == (alices, str(org.alice))
        # Bob leaves the boss's team: from then on the boss no longer receives his scorecard.
        moved = app.change_manager(HR, org.bob, None).position
        await record(server, bob_goal, "3", "2026-02-02")
        alices = await record(server, alice_goal, "5", "2026-02-02")
        assert moved < alices
        update = (await boss.next(team))["data"]["scorecardUpdated"]
        assert (update["position"], update["scorecard"]["ownerId"]) == (alices, str(org.alice))


async def test_bad_arguments_are_refused_naming_the_problem(server: Server, org: Org) -> None:
    unknown = "00000000-0000-0000-0000-00000000abcd"
    cases: list[tuple[str, dict[str, Any], str]] = [
        (SCORECARDS, {"employee": str(org.alice), "department": str(org.sales)}, "exactly one"),
        (SCORECARDS, {}, "exactly one of employeeId and departmentId"),
        (SCORECARDS, {"employee": "nope"}, "employeeId 'nope' is not a valid id"),
        (SCORECARDS, {"department": unknown}, f"departmentId {unknown} names no department"),
        (SCORECARDS, {"employee": str(org.alice), "after": -1}, "afterPosition is -1"),
        (PROGRESSED, {"owner": unknown}, "names no employee or department"),
        (
            "subscription($e: ID, $p: String) { scorecardUpdated(employeeId: $e, period: $p) "
            "{ position } }",
            {"e": str(org.alice), "p": "2026-13"},
            "is not a month",
        ),
    ]
    async with opened(server, Role.HR, org.boss) as hr:
        for query, variables, problem in cases:
            operation = await hr.subscribe(query, variables)
            error = await error_of(hr, operation)
            assert problem in error["message"], (variables, error)


async def test_the_audit_tail_keeps_raters_anonymous_as_the_audit_trail_does(
    app: Perfledger, server: Server, org: Org
) -> None:
    at = await read_models_at(server, app)
    async with (
        opened(server, Role.ADMIN, org.alice) as reviewee,  # an admin being reviewed
        opened(server, Role.ADMIN, org.boss) as admin,
        opened(server, Role.AUDITOR, org.boss) as auditor,
    ):
        variables = {"after": at, "type": "Appraisal.ReviewSubmitted"}
        own = await reviewee.subscribe(AUDIT_TAIL, variables)
        admins = await admin.subscribe(AUDIT_TAIL, variables)
        audits = await auditor.subscribe(AUDIT_TAIL, variables)
        cycle = UUID(int=77)
        app.draft_review_cycle(HR, cycle_id=cycle, definition=cycle_definition(org.sales))
        app.open_review_cycle(HR, cycle, [org.alice], date(2026, 3, 1))
        app.assign_peer_rater(HR, cycle, org.alice, org.bob)
        when = datetime(2026, 3, 2, tzinfo=UTC)
        for who in (org.bob, org.alice):  # Bob as a peer (anonymous), then Alice's self review
            app.submit_review(
                as_role(Role.EMPLOYEE, who, "as asked"),
                cycle_id=cycle,
                reviewee_id=org.alice,
                ratings=ratings(4, 4),
                comments="fine",
                now=when,
            )
        peer, own_review = [(await auditor.next(audits))["data"]["auditTail"] for _ in "12"]
        assert peer["raterKey"] == f"peer:{org.bob}"
        assert peer["actorId"] == str(org.bob)
        # The reviewee, admin or not, is never told about their anonymous raters: their first
        # entry is their own review.
        first = (await reviewee.next(own))["data"]["auditTail"]
        assert first["position"] == own_review["position"]
        # Another admin sees the peer's entry without the rater, its actor or its reason.
        redacted = (await admin.next(admins))["data"]["auditTail"]
        assert redacted["position"] == peer["position"]
        assert (redacted["raterKey"], redacted["actorId"], redacted["actorHidden"]) == (
            None,
            None,
            True,
        )
        assert redacted["reason"] is None
        assert str(org.bob) not in str(redacted)


async def test_a_connection_without_a_valid_token_is_refused(server: Server, org: Org) -> None:
    for payload in ({}, {"authorization": "Bearer not-a-token"}, {"Authorization": 42}):
        async with opened(server, None, org.alice) as ws:
            await ws.send({"type": "connection_init", "payload": payload})
            assert await ws.closed() == (4403, "Forbidden")
    # A subscription before signing in is refused by the protocol (4401), as is any operation.
    async with opened(server, None, org.alice) as ws:
        await ws.subscribe(SCORECARDS, {"employee": str(org.alice)})
        assert (await ws.closed())[0] == 4401


async def test_a_connection_closes_when_its_token_expires(server: Server, org: Org) -> None:
    """A token is good until it expires, over a socket as over HTTP: a subscription does not
    outlive it. The client signs in again and resumes from its last position."""
    now = int(time.time())
    claims = {"iss": auth.ISSUER, "sub": str(org.alice), "role": "employee", "iat": now}
    soon = jwt.encode({**claims, "exp": now + 2}, server.settings.jwt_secret, auth.ALGORITHM)
    async with opened(server, None, org.alice) as ws:
        ack = await ws.init({"authorization": f"Bearer {soon}"})
        assert ack["type"] == "connection_ack", ack
        await ws.subscribe(SCORECARDS, {"employee": str(org.alice)})
        closed = await asyncio.wait_for(ws.closed(), timeout=10)
        assert closed == (4401, "the bearer token has expired; sign in again")
    # An expired token is refused at connection_init, like any invalid one.
    async with opened(server, None, org.alice) as ws:
        await ws.send({"type": "connection_init", "payload": {"authorization": f"Bearer {soon}"}})
        assert await ws.closed() == (4403, "Forbidden")


async def test_a_malformed_message_closes_the_socket_with_the_protocols_error(
    server: Server, org: Org
) -> None:
    for malformed in ("not json", '{"type": "subscribe"}', '{"type": "no such type"}'):
        async with opened(server, Role.HR, org.boss) as ws:
            await ws.connection.send(malformed)
            code, _ = await ws.closed()
            assert code == 4400, malformed
    async with opened(server, Role.HR, org.boss) as ws:
        await ws.subscribe("subscription { scorecardUpdated(employeeId: ", {})
        assert (await ws.closed())[0] == 4400


async def test_a_subscriber_that_cannot_keep_up_is_dropped_and_the_others_keep_receiving(
    app: Perfledger, database: Database, org: Org
) -> None:
    goal = set_goal(app, org.alice, weight=Decimal(100))
    settings = make_settings(run_projections=True, wait_timeout_seconds=30.0, live_queue_size=4)
    # A small send buffer makes the server wait for a client that stops reading after a few
    # kilobytes; large entries fill it with fewer events.
    big = " ".join(f"s{i}: summary" for i in range(25))
    tail = f"subscription($after: Int) {{ auditTail(afterPosition: $after) {{ position {big} }} }}"
    async with (
        running(settings, database, send_buffer=4096) as server,
        opened(server, Role.AUDITOR, org.boss) as fast,
        opened(server, Role.AUDITOR, org.boss, receive_buffer=4096) as slow,
    ):
        at = await read_models_at(server, app)
        slow_id = await slow.subscribe(tail, {"after": at})
        fast_id = await fast.subscribe(tail, {"after": at})
        # Rounds of commits: the slow client's backlog grows with each, the fast one's never.
        for _ in range(8):
            first = position(app) + 1
            for day in range(20):
                app.record_progress(HR, goal, Decimal(day % 8), date(2026, 1, 1 + day), "crm")
            received = [
                (await fast.next(fast_id))["data"]["auditTail"]["position"] for _ in range(20)
            ]
            assert received == list(range(first, position(app) + 1))
        # Reading again, the slow client finds its backlog, then the close.
        code, reason = await slow.closed()
        assert (code, reason) == (TOO_SLOW, "subscriber too slow: 4 updates queued")
        got = [m["payload"]["data"]["auditTail"]["position"] for m in slow.drained]
        assert {m["id"] for m in slow.drained} == {slow_id}
        assert got == list(range(at + 1, at + 1 + len(got)))  # in order, no gap
        assert got[-1] < position(app)
        # It resumes from the last position it received and misses nothing.
        async with opened(server, Role.AUDITOR, org.boss) as again:
            resumed = await again.subscribe(tail, {"after": got[-1]})
            rest = [
                (await again.next(resumed))["data"]["auditTail"]["position"]
                for _ in range(position(app) - got[-1])
            ]
        assert rest == list(range(got[-1] + 1, position(app) + 1))


@pytest.fixture
def restartable() -> Iterator[tuple[Database, Callable[[], None]]]:
    """A PostgreSQL server of this test's own (the shared one cannot restart under the
    others), and how to restart it."""
    import pgserver
    from pgserver._commands import POSTGRES_BIN_PATH

    directory = Path(tempfile.mkdtemp(prefix="perfledger-restart-"))
    server = pgserver.get_server(directory, cleanup_mode="delete")  # type: ignore[attr-defined]

    def restart() -> None:
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(directory),
                "-w",
                "-m",
                "fast",
                "restart",
            ],
            check=True,
            user=server.system_user,
            # The server inherits these: a pipe would keep this call waiting for it to end.
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    yield Database.from_url(server.get_uri()), restart
    server.cleanup()


async def retried(write: Callable[[], Receipt]) -> int:
    """A write as the database comes back: its first attempts may meet dead connections."""
    for _ in range(50):
        try:
            return write().position
        except Exception:  # the pool's connections died with the server
            await asyncio.sleep(0.2)
    return write().position


async def test_subscribers_lose_nothing_across_a_database_restart(
    restartable: tuple[Database, Callable[[], None]],
) -> None:
    database, restart = restartable
    app = build_application(database, make_settings())
    try:
        org = small_org(app)
        goal = set_goal(app, org.alice, weight=Decimal(100))

        def measure(value: int) -> Callable[[], Receipt]:
            return lambda: app.record_progress(HR, goal, Decimal(value), date(2026, 2, 1), "crm")

        settings = make_settings(run_projections=True, wait_timeout_seconds=30.0)
        async with (
            running(settings, database) as server,
            opened(server, Role.AUDITOR, org.boss) as live,
        ):
            at = await read_models_at(server, app)
            tail = await live.subscribe(AUDIT_TAIL, {"after": at})
            cards = await live.subscribe(SCORECARDS, {"employee": str(org.alice), "after": at})
            async with opened(server, Role.AUDITOR, org.boss) as leaving:
                gone = await leaving.subscribe(AUDIT_TAIL, {"after": at})
                first = measure(1)().position
                seen = (await leaving.next(gone))["data"]["auditTail"]["position"]
            assert seen == first
            assert (await live.next(tail))["data"]["auditTail"]["position"] == first
            assert (await live.next(cards))["data"]["scorecardUpdated"]["position"] == first

            await asyncio.to_thread(restart)
            second = await retried(measure(2))
            third = await retried(measure(3))
            # The live subscriber, connected throughout, receives both.
            assert [(await live.next(tail))["data"]["auditTail"]["position"] for _ in "23"] == [
                second,
                third,
            ]
            card = (await live.next(cards))["data"]["scorecardUpdated"]
            if card["position"] == second:  # one update per commit: two, or one for both
                card = (await live.next(cards))["data"]["scorecardUpdated"]
            assert (card["position"], card["scorecard"]["score"]) == (third, "37.50")
            # The one that left resumes from the last position it saw: all it missed, once.
            async with opened(server, Role.AUDITOR, org.boss) as back:
                resumed = await back.subscribe(AUDIT_TAIL, {"after": seen})
                got = [(await back.next(resumed))["data"]["auditTail"]["position"] for _ in "23"]
            assert got == [second, third]
    finally:
        app.close()
