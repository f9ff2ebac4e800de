"""Feedback and 1:1 notes end to end over HTTP: who sees which feedback (and its body) through
every query, rejections as data that record nothing, acknowledgement, and monthly 1:1 coverage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from domain.provenance import Role
from service.application import department_id_for, employee_id_for
from service.database import Database
from tests.conftest import make_settings
from tests.e2e import Server, running

SALES = department_id_for("SALES")
BO = employee_id_for("BO")  # head of sales, manages Alice and Bob
ALICE = employee_id_for("ALICE")  # a manager under Bo, manages Carol
BOB = employee_id_for("BOB")
CAROL = employee_id_for("CAROL")
PAT = employee_id_for("PAT")  # in no one's reporting line here
TEAM = (("BO", None), ("ALICE", BO), ("BOB", BO), ("CAROL", ALICE), ("PAT", None))
ROLES = {BO: Role.MANAGER, ALICE: Role.MANAGER, BOB: Role.EMPLOYEE, CAROL: Role.EMPLOYEE}

RESULT = "__typename ... on CommandAccepted { position id } ... on CommandRejected { code field }"
GIVE = f"mutation($input: GiveFeedbackInput!) {{ giveFeedback(input: $input) {{ {RESULT} }} }}"
ACKNOWLEDGE = f"mutation($id: ID!) {{ acknowledgeFeedback(feedbackId: $id) {{ {RESULT} }} }}"
FIELDS = """id kind visibility occurredOn body acknowledged acknowledgedOn position
    giver { id } receiver { id } goal { id }"""
ITEM = f"query($id: ID!, $at: Int) {{ feedbackItem(id: $id, minPosition: $at) {{ {FIELDS} }} }}"
RECEIVED = f"""
query($id: ID, $kind: FeedbackKind, $first: Int!, $after: String, $at: Int) {{
  feedbackReceived(employeeId: $id, kind: $kind, first: $first, after: $after, minPosition: $at) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {FIELDS} }} }}
  }}
}}"""
GIVEN = """
query($id: ID, $at: Int) {
  feedbackGiven(employeeId: $id, minPosition: $at) { totalCount edges { node { id body } } }
}"""
COVERAGE = """
query($month: String!, $manager: ID, $at: Int) {
  oneOnOneCoverage(month: $month, managerId: $manager, minPosition: $at) {
    month manager { id } coveredCount uncoveredCount uncovered { id }
    reports { employee { id } oneOnOnes lastOneOnOne covered }
  }
}"""
CONFIDENTIAL = "Carol's forecast was off twice; let's pair on the pipeline review."


@pytest.fixture
async def server(database: Database) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=2.0)
    async with running(settings, database) as running_server:
        yield running_server


def as_(person: UUID) -> dict[str, Any]:
    return {"role": ROLES.get(person, Role.EMPLOYEE), "employee": person}


async def build_team(server: Server) -> None:
    result = await server.graphql(
        'mutation { openDepartment(input: {code: "SALES", name: "Sales"}) { __typename } }'
    )
    assert result["data"]["openDepartment"]["__typename"] == "CommandAccepted", result
    for code, manager in TEAM:
        result = await server.graphql(
            """mutation($input: HireEmployeeInput!) { hireEmployee(input: $input) {
                 __typename } }""",
            {
                "input": {
                    "code": code,
                    "name": code.title(),
                    "departmentId": str(SALES),
                    "managerId": str(manager) if manager else None,
                    "jobTitle": "Sales",
                    "hireDate": "2022-01-10",
                }
            },
        )
        assert result["data"]["hireEmployee"]["__typename"] == "CommandAccepted", result


async def give(server: Server, giver: UUID, receiver: UUID, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "receiverId": str(receiver),
        "kind": "PRAISE",
        "visibility": "PRIVATE",
        "body": "Thanks for the clean handover.",
        "occurredOn": "2026-11-02",
    }
    values.update(overrides)
    result = await server.graphql(GIVE, {"input": values}, **as_(giver))
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["giveFeedback"]
    return payload


async def given(server: Server, giver: UUID, receiver: UUID, **overrides: Any) -> dict[str, Any]:
    payload = await give(server, giver, receiver, **overrides)
    assert payload["__typename"] == "CommandAccepted", payload
    return payload


async def item(server: Server, feedback_id: str, at: int, viewer: UUID) -> Any:
    result = await server.graphql(ITEM, {"id": feedback_id, "at": at}, **as_(viewer))
    assert "errors" not in result, result
    return result["data"]["feedbackItem"]


async def received_ids(server: Server, receiver: UUID, at: int, **viewer: Any) -> list[str]:
    result = await server.graphql(RECEIVED, {"id": str(receiver), "first": 50, "at": at}, **viewer)
    assert "errors" not in result, result
    page = result["data"]["feedbackReceived"]
    assert page["totalCount"] == len(page["edges"])
    return [edge["node"]["id"] for edge in page["edges"]]


async def test_private_feedback_reaches_only_the_parties_the_receivers_managers_and_hr(
    server: Server,
) -> None:
    await build_team(server)
    private = await given(
        server, BOB, CAROL, kind="IMPROVEMENT", body=CONFIDENTIAL, occurredOn="2026-11-03"
    )
    shared = await given(server, PAT, CAROL, visibility="SHARED", occurredOn="2026-11-04")
    at = shared["position"]

    allowed = [BOB, CAROL, ALICE, BO]  # giver, receiver, her manager, his manager
    for viewer in allowed:
        seen = await item(server, private["id"], at, viewer)
        assert seen["body"] == CONFIDENTIAL, viewer
        assert seen["kind"] == "IMPROVEMENT"
        assert seen["giver"]["id"] == str(BOB)
        assert seen["receiver"]["id"] == str(CAROL)
        assert await received_ids(server, CAROL, at, **as_(viewer)) == [shared["id"], private["id"]]
    for role in (Role.HR, Role.AUDITOR, Role.ADMIN):
        result = await server.graphql(ITEM, {"id": private["id"], "at": at}, role=role)
        assert result["data"]["feedbackItem"]["body"] == CONFIDENTIAL, role
        assert await received_ids(server, CAROL, at, role=role) == [shared["id"], private["id"]]

    # Pat is no party and manages no one: the private item does not exist for him.
    assert await item(server, private["id"], at, PAT) is None
    assert await received_ids(server, CAROL, at, **as_(PAT)) == [shared["id"]]
    result = await server.graphql(GIVEN, {"id": str(BOB), "at": at}, **as_(PAT))
    assert result["data"]["feedbackGiven"] == {"totalCount": 0, "edges": []}
    # Shared feedback is for everyone signed in, body included.
    assert (await item(server, shared["id"], at, BOB))["body"] == "Thanks for the clean handover."
    # Bob's manager Bo sees what Bob gave only because Bo also manages Carol; Alice manages
    # Carol but not Bob, and still sees it as Carol's manager.
    result = await server.graphql(GIVEN, {"id": str(BOB), "at": at}, **as_(ALICE))
    assert [e["node"]["id"] for e in result["data"]["feedbackGiven"]["edges"]] == [private["id"]]


async def test_feedback_lists_page_newest_first_and_filter_by_kind(server: Server) -> None:
    await build_team(server)
    ids = []
    for day, kind in (
        ("2026-11-01", "PRAISE"),
        ("2026-11-05", "ONE_ON_ONE"),
        ("2026-11-03", "PRAISE"),
    ):
        ids.append((await given(server, ALICE, CAROL, kind=kind, occurredOn=day))["id"])
    last = await given(server, BO, CAROL, occurredOn="2026-11-03")
    at = last["position"]
    first_page = await server.graphql(
        RECEIVED, {"first": 2, "at": at}, **as_(CAROL)
    )  # employeeId defaults to the viewer
    page = first_page["data"]["feedbackReceived"]
    assert page["totalCount"] == 4
    assert page["pageInfo"]["hasNextPage"] is True
    # newest date first; on the same date, the one given last first
    assert [e["node"]["id"] for e in page["edges"]] == [ids[1], last["id"]]
    rest = await server.graphql(
        RECEIVED, {"first": 2, "after": page["pageInfo"]["endCursor"]}, **as_(CAROL)
    )
    tail = rest["data"]["feedbackReceived"]
    assert [e["node"]["id"] for e in tail["edges"]] == [ids[2], ids[0]]
    assert tail["pageInfo"]["hasNextPage"] is False
    praise = await server.graphql(RECEIVED, {"first": 10, "kind": "PRAISE"}, **as_(CAROL))
    assert praise["data"]["feedbackReceived"]["totalCount"] == 3
    bad = await server.graphql(RECEIVED, {"first": 10, "after": "bm9wZQ=="}, **as_(CAROL))
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


async def test_rejected_feedback_is_data_and_records_nothing(server: Server) -> None:
    await build_team(server)
    first = await given(server, BOB, CAROL)
    rejections = [
        (await give(server, BOB, BOB), "FEEDBACK_TO_SELF", "receiverId"),
        (await give(server, BOB, CAROL, occurredOn="2099-01-01"), "INVALID_INPUT", "occurredOn"),
        (await give(server, BOB, CAROL, body="   "), "INVALID_INPUT", "body"),
        (await give(server, BOB, CAROL, body="x" * 5001), "INVALID_INPUT", "body"),
        (await give(server, BOB, CAROL, receiverId="nobody"), "INVALID_INPUT", "receiverId"),
        (await give(server, BOB, UUID(int=7)), "NOT_FOUND", "receiverId"),
        (await give(server, BOB, CAROL, goalId=str(UUID(int=9))), "NOT_FOUND", "goalId"),
    ]
    for payload, code, field in rejections:
        assert payload == {"__typename": "CommandRejected", "code": code, "field": field}
    auditor = await server.graphql(
        GIVE,
        {
            "input": {
                "receiverId": str(CAROL),
                "kind": "PRAISE",
                "visibility": "SHARED",
                "body": "Nice",
                "occurredOn": "2026-11-02",
            }
        },
        role=Role.AUDITOR,
        employee=PAT,
    )
    assert auditor["data"]["giveFeedback"]["code"] == "PERMISSION_DENIED"
    second = await given(server, BOB, CAROL)
    assert second["position"] == first["position"] + 1  # nothing was recorded in between


async def test_only_the_receiver_acknowledges_and_only_once(server: Server) -> None:
    await build_team(server)
    feedback = await given(server, ALICE, CAROL, kind="ONE_ON_ONE")
    for someone in (ALICE, BO, PAT):
        result = await server.graphql(ACKNOWLEDGE, {"id": feedback["id"]}, **as_(someone))
        assert result["data"]["acknowledgeFeedback"]["code"] == "PERMISSION_DENIED", someone
    done = await server.graphql(ACKNOWLEDGE, {"id": feedback["id"]}, **as_(CAROL))
    assert done["data"]["acknowledgeFeedback"]["__typename"] == "CommandAccepted"
    again = await server.graphql(ACKNOWLEDGE, {"id": feedback["id"]}, **as_(CAROL))
    assert again["data"]["acknowledgeFeedback"] == {
        "__typename": "CommandRejected",
        "code": "ALREADY_ACKNOWLEDGED",
        "field": "feedbackId",
    }
    at = done["data"]["acknowledgeFeedback"]["position"]
    seen = await item(server, feedback["id"], at, CAROL)
    assert seen["acknowledged"] is True
    assert seen["acknowledgedOn"] is not None


async def test_the_linked_goal_shows_only_to_those_who_may_see_it(server: Server) -> None:
    await build_team(server)
    goal = await server.graphql(
        """mutation($input: SetGoalInput!) { setGoal(input: $input) {
             ... on CommandAccepted { id } } }""",
        {
            "input": {
                "ownerKind": "EMPLOYEE",
                "ownerId": str(CAROL),
                "title": "New customers",
                "metric": "new_customers",
                "unit": "count",
                "direction": "HIGHER_IS_BETTER",
                "baseline": "0",
                "target": "5",
                "weight": "50",
                "perspective": "CUSTOMER",
                "horizon": "SHORT_TERM",
                "period": "2026-Q4",
                "dueDate": "2026-12-31",
            }
        },
    )
    goal_id = goal["data"]["setGoal"]["id"]
    feedback = await given(server, ALICE, CAROL, visibility="SHARED", goalId=goal_id)
    at = feedback["position"]
    assert (await item(server, feedback["id"], at, CAROL))["goal"] == {"id": goal_id}
    assert (await item(server, feedback["id"], at, PAT))["goal"] is None
    wrong = await give(server, ALICE, BOB, goalId=goal_id)
    assert wrong == {"__typename": "CommandRejected", "code": "INVALID_INPUT", "field": "goalId"}


async def test_monthly_one_on_one_coverage_names_the_reports_without_a_one_on_one(
    server: Server,
) -> None:
    await build_team(server)
    await given(server, BO, ALICE, kind="ONE_ON_ONE", occurredOn="2026-10-06")
    await given(server, ALICE, BO, kind="ONE_ON_ONE", occurredOn="2026-10-20")  # either direction
    await given(server, BOB, BO, kind="ONE_ON_ONE", occurredOn="2026-09-29")  # the month before
    await given(server, BO, BOB, kind="PRAISE", occurredOn="2026-10-08")  # not a 1:1
    last = await given(server, ALICE, CAROL, kind="ONE_ON_ONE", occurredOn="2026-11-02")

    result = await server.graphql(COVERAGE, {"month": "2026-10", "at": last["position"]}, **as_(BO))
    assert "errors" not in result, result
    coverage = result["data"]["oneOnOneCoverage"]
    assert coverage["month"] == "2026-10"
    assert coverage["manager"] == {"id": str(BO)}
    assert coverage["reports"] == [
        {
            "employee": {"id": str(ALICE)},
            "oneOnOnes": 2,
            "lastOneOnOne": "2026-10-20",
            "covered": True,
        },
        {
            "employee": {"id": str(BOB)},
            "oneOnOnes": 0,
            "lastOneOnOne": "2026-09-29",
            "covered": False,
        },
    ]
    assert coverage["uncovered"] == [{"id": str(BOB)}]
    assert (coverage["coveredCount"], coverage["uncoveredCount"]) == (1, 1)

    # hr, auditors and admins ask about any manager; Carol had her 1:1 in November, not October
    for role in (Role.HR, Role.AUDITOR, Role.ADMIN):
        for month, covered in (("2026-10", False), ("2026-11", True)):
            result = await server.graphql(
                COVERAGE, {"month": month, "manager": str(ALICE)}, role=role
            )
            (carol,) = result["data"]["oneOnOneCoverage"]["reports"]
            assert carol["covered"] is covered, (role, month)

    for someone in (BOB, ALICE):
        result = await server.graphql(
            COVERAGE, {"month": "2026-10", "manager": str(BO)}, **as_(someone)
        )
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert result["data"] is None
    bad = await server.graphql(COVERAGE, {"month": "2026-Q4"}, **as_(BO))
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    unknown = await server.graphql(COVERAGE, {"month": "2026-10", "manager": str(UUID(int=5))})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
