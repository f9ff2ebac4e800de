"""End to end over HTTP: a real uvicorn server, real PostgreSQL, bearer tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.provenance import Role
from service.api.schema import schema
from service.application import department_id_for, employee_id_for
from service.database import Database
from tests.conftest import make_settings
from tests.e2e import Server, running

ROOT = Path(__file__).resolve().parent.parent

HIRE = """
mutation($input: HireEmployeeInput!) {
  hireEmployee(input: $input) {
    __typename
    ... on CommandAccepted { position id }
    ... on CommandRejected { code message field }
  }
}"""
SET_GOAL = """
mutation($input: SetGoalInput!) {
  setGoal(input: $input) {
    __typename
    ... on CommandAccepted { position id }
    ... on CommandRejected { code message field }
  }
}"""
PROGRESS = """
mutation($input: RecordProgressInput!) {
  recordProgress(input: $input) {
    __typename
    ... on CommandAccepted { position id }
    ... on CommandRejected { code message field }
  }
}"""
SCORECARD = """
query($id: ID!, $period: String!, $at: Int) {
  scorecard(employeeId: $id, period: $period, minPosition: $at) {
    score tier coverage ruleSetVersion position
    goals { title achievement capped contribution effectiveWeight }
  }
}"""

BOSS = employee_id_for("B1")
ALICE = employee_id_for("A1")
BOB = employee_id_for("B2")
SALES = department_id_for("SALES")


@pytest.fixture
async def server(database: Database) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=1.0)
    async with running(settings, database) as running_server:
        yield running_server


async def accepted(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"][field]
    assert payload["__typename"] == "CommandAccepted", payload
    return payload


async def build_team(server: Server) -> int:
    result = await server.graphql(
        """mutation { openDepartment(input: {code: "SALES", name: "Sales"}) {
             __typename ... on CommandAccepted { position } } }"""
    )
    await accepted(result, "openDepartment")
    position = 0
    for code, name, manager in (("B1", "Bo", None), ("A1", "Alice", BOSS), ("B2", "Bob", BOSS)):
        result = await server.graphql(
            HIRE,
            {
                "input": {
                    "code": code,
                    "name": name,
                    "departmentId": str(SALES),
                    "managerId": str(manager) if manager else None,
                    "jobTitle": "Account manager",
                    "hireDate": "2022-01-10",
                    "attributes": [{"key": "location", "value": "Lyon"}],
                }
            },
        )
        position = (await accepted(result, "hireEmployee"))["position"]
    return position


def goal_input(owner: UUID, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "ownerKind": "EMPLOYEE",
        "ownerId": str(owner),
        "title": "Quarterly sales growth",
        "metric": "sales_growth",
        "unit": "%",
        "direction": "HIGHER_IS_BETTER",
        "baseline": "0",
        "target": "8",
        "weight": "60",
        "perspective": "FINANCIAL",
        "horizon": "SHORT_TERM",
        "period": "2026-Q1",
        "dueDate": "2026-03-31",
    }
    values.update(overrides)
    return {"input": values}


async def event_count(server: Server) -> int:
    result = await server.graphql("{ readModels { position } }")
    position: int = result["data"]["readModels"]["position"]
    return position


async def test_requests_without_a_valid_token_are_refused_clearly(server: Server) -> None:
    missing = await server.client.post("/graphql", json={"query": "{ viewer { role } }"})
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Bearer" in missing.json()["errors"][0]["message"]
    forged = await server.client.post(
        "/graphql",
        json={"query": "{ viewer { role } }"},
        headers={"Authorization": "Bearer not.a.token"},
    )
    assert forged.status_code == 401
    assert "invalid" in forged.json()["errors"][0]["message"]


async def test_graphiql_page_is_served_without_a_token(server: Server) -> None:
    page = await server.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_the_dashboard_is_served_without_a_token_and_revalidated_after_upgrades(
    server: Server,
) -> None:
    page = await server.client.get("/")
    assert page.status_code == 200
    assert "/dashboard/app.js" in page.text
    script = await server.client.get("/dashboard/app.js")
    assert script.status_code == 200
    assert script.headers["cache-control"] == "no-cache"
    assert "javascript" in script.headers["content-type"]
    again = await server.client.get(
        "/dashboard/app.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert (await server.client.get("/dashboard/../settings.py")).status_code == 404


async def test_scorecard_explains_itself_after_a_write_and_read_your_writes(
    server: Server,
) -> None:
    await build_team(server)
    goal = await accepted(await server.graphql(SET_GOAL, goal_input(ALICE)), "setGoal")
    csat = await accepted(
        await server.graphql(
            SET_GOAL,
            goal_input(
                ALICE,
                title="Customer satisfaction",
                metric="csat",
                perspective="CUSTOMER",
                baseline="80",
                target="90",
                weight="40",
            ),
        ),
        "setGoal",
    )
    await accepted(
        await server.graphql(
            PROGRESS,
            {"input": {"goalId": goal["id"], "value": "10", "asOf": "2026-03-01", "source": "crm"}},
        ),
        "recordProgress",
    )
    last = await accepted(
        await server.graphql(
            PROGRESS,
            {
                "input": {
                    "goalId": csat["id"],
                    "value": "85",
                    "asOf": "2026-03-01",
                    "source": "survey",
                }
            },
        ),
        "recordProgress",
    )
    result = await server.graphql(
        SCORECARD, {"id": str(ALICE), "period": "2026-Q1", "at": last["position"]}
    )
    card = result["data"]["scorecard"]
    # growth 10 of 8 = 125%, capped at 120% -> 0.6 x 120 = 72; csat 5 of 10 = 50% -> 0.4 x 50 = 20
    assert Decimal(card["score"]) == Decimal("92.00")
    assert card["tier"] == "A"
    assert card["position"] >= last["position"]
    by_title = {g["title"]: g for g in card["goals"]}
    assert by_title["Quarterly sales growth"]["capped"] is True
    assert Decimal(by_title["Quarterly sales growth"]["contribution"]) == Decimal("72.00")
    assert Decimal(by_title["Customer satisfaction"]["contribution"]) == Decimal("20.00")


async def test_rejected_commands_are_data_and_record_nothing(server: Server) -> None:
    position = await build_team(server)
    await accepted(await server.graphql(SET_GOAL, goal_input(BOB)), "setGoal")
    await server.graphql("{ viewer { role } }")
    before = await server.graphql(
        "query($p: Int, $id: ID!) { employee(id: $id, minPosition: $p) { id } }",
        {"p": position, "id": str(BOB)},
    )
    assert before["data"]["employee"]["id"] == str(BOB)
    too_heavy = await server.graphql(SET_GOAL, goal_input(BOB, weight="50"))
    rejection = too_heavy["data"]["setGoal"]
    assert rejection == {
        "__typename": "CommandRejected",
        "code": "WEIGHTS_EXCEEDED",
        "message": rejection["message"],
        "field": "weight",
    }
    assert "40" in rejection["message"]  # says how much weight is left
    auditor = await server.graphql(SET_GOAL, goal_input(BOB, weight="10"), role=Role.AUDITOR)
    assert auditor["data"]["setGoal"]["code"] == "PERMISSION_DENIED"
    bad_id = await server.graphql(SET_GOAL, goal_input(BOB, ownerId="not-a-uuid"))
    assert bad_id["data"]["setGoal"]["field"] == "ownerId"
    colleague = await server.graphql(
        SET_GOAL, goal_input(BOB, weight="10"), role=Role.EMPLOYEE, employee=ALICE
    )
    assert colleague["data"]["setGoal"]["code"] == "PERMISSION_DENIED"
    services_position = await server.graphql("{ readModels { position } }")
    store_max = services_position["data"]["readModels"]["position"]
    # the last accepted write was the goal; nothing after it was recorded
    again = await accepted(await server.graphql(SET_GOAL, goal_input(BOB, weight="10")), "setGoal")
    assert again["position"] > store_max
    assert again["position"] - store_max <= 2  # the goal and its goal set, nothing else between


async def test_each_role_sees_only_what_it_may(server: Server) -> None:
    await build_team(server)
    for owner in (ALICE, BOB):
        await accepted(await server.graphql(SET_GOAL, goal_input(owner)), "setGoal")
    goal = await accepted(await server.graphql(SET_GOAL, goal_input(BOSS, weight="100")), "setGoal")
    at = goal["position"]

    # an employee: their own scorecard, not a colleague's, through every path
    own = await server.graphql(
        SCORECARD,
        {"id": str(ALICE), "period": "2026-Q1", "at": at},
        role=Role.EMPLOYEE,
        employee=ALICE,
    )
    assert own["data"]["scorecard"] is not None
    other = await server.graphql(
        SCORECARD,
        {"id": str(BOB), "period": "2026-Q1", "at": at},
        role=Role.EMPLOYEE,
        employee=ALICE,
    )
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nested = await server.graphql(
        """query($id: ID!) { employee(id: $id) { name attributes { key } goals { id }
             scorecard(period: "2026-Q1") { score } } }""",
        {"id": str(BOB)},
        role=Role.EMPLOYEE,
        employee=ALICE,
    )
    assert nested["data"]["employee"]["attributes"] is None
    assert nested["data"]["employee"]["goals"] == []
    assert nested["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = await server.graphql(
        "{ goals(first: 50) { totalCount edges { node { ownerId } } } }",
        role=Role.EMPLOYEE,
        employee=ALICE,
    )
    assert {e["node"]["ownerId"] for e in listed["data"]["goals"]["edges"]} == {str(ALICE)}
    department = await server.graphql(
        """query($d: ID!) { departmentScorecard(departmentId: $d, period: "2026-Q1") {
             members { ownerId } distribution { count } } }""",
        {"d": str(SALES)},
        role=Role.EMPLOYEE,
        employee=ALICE,
    )
    assert [m["ownerId"] for m in department["data"]["departmentScorecard"]["members"]] == [
        str(ALICE)
    ]

    # a manager: their reports too
    managed = await server.graphql(
        """query($d: ID!) { departmentScorecard(departmentId: $d, period: "2026-Q1") {
             members { ownerId employee { name } } } }""",
        {"d": str(SALES)},
        role=Role.MANAGER,
        employee=BOSS,
    )
    names = {m["employee"]["name"] for m in managed["data"]["departmentScorecard"]["members"]}
    assert names == {"Alice", "Bob", "Bo"}

    # hr sees group attributes; an employee never does
    hr = await server.graphql(
        "query($id: ID!) { employee(id: $id) { attributes { key value } } }", {"id": str(BOB)}
    )
    assert hr["data"]["employee"]["attributes"] == [{"key": "location", "value": "Lyon"}]


async def test_repeated_request_with_an_idempotency_key_records_once(server: Server) -> None:
    await build_team(server)
    headers = {"Idempotency-Key": "create-goal-42"}
    first = await accepted(
        await server.graphql(SET_GOAL, goal_input(ALICE), headers=headers), "setGoal"
    )
    second = await accepted(
        await server.graphql(SET_GOAL, goal_input(ALICE), headers=headers), "setGoal"
    )
    assert second["id"] == first["id"]
    goals = await server.graphql(
        "query($p: Int, $o: ID) { goals(ownerId: $o, minPosition: $p) { totalCount } }",
        {"p": second["position"], "o": str(ALICE)},
    )
    assert goals["data"]["goals"]["totalCount"] == 1
    reused = await server.graphql(
        SET_GOAL, goal_input(ALICE, title="Something else"), headers=headers
    )
    assert reused["data"]["setGoal"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_waiting_for_an_unreached_position_fails_clearly(server: Server) -> None:
    result = await server.graphql("{ departments(minPosition: 999999) { totalCount } }")
    assert result["errors"][0]["extensions"]["code"] == "POSITION_NOT_REACHED"
    assert "999999" in result["errors"][0]["message"]


async def test_malformed_oversized_and_abusive_documents_get_errors_not_500(
    server: Server,
) -> None:
    token = server.token(Role.HR, UUID(int=1))
    headers = {"Authorization": f"Bearer {token}"}
    syntax = await server.client.post("/graphql", json={"query": "{ viewer { "}, headers=headers)
    assert syntax.status_code in (200, 400)
    assert "Syntax Error" in syntax.json()["errors"][0]["message"]
    not_json = await server.client.post(
        "/graphql", content=b"{nope", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400
    huge = await server.client.post(
        "/graphql", json={"query": "{ viewer { role } }" + " " * 100_000}, headers=headers
    )
    assert huge.status_code == 413
    assert huge.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    deep = (
        "{ employees { edges { node { manager { manager { manager { manager { manager { "
        "manager { manager { manager { name } } } } } } } } } } } }"
    )
    too_deep = await server.client.post("/graphql", json={"query": deep}, headers=headers)
    assert "exceeds maximum operation depth" in too_deep.json()["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: viewer {{ role }}" for i in range(40)) + " }"
    too_many = await server.client.post("/graphql", json={"query": aliases}, headers=headers)
    assert "aliases" in too_many.json()["errors"][0]["message"].lower()
    bad_cursor = await server.graphql('{ employees(after: "%%%") { totalCount } }')
    assert bad_cursor["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == str(schema) + "\n", (
        "schema.graphql is out of date: run `perfledger schema --write schema.graphql`"
    )


async def test_employees_page_through_in_code_order_without_overlap(server: Server) -> None:
    position = await build_team(server)
    query = """query($after: String, $p: Int) {
      employees(first: 2, after: $after, minPosition: $p) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { code } } } }"""
    first = (await server.graphql(query, {"p": position}))["data"]["employees"]
    assert [e["node"]["code"] for e in first["edges"]] == ["A1", "B1"]
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await server.graphql(query, {"after": first["pageInfo"]["endCursor"]}))["data"]
    assert [e["node"]["code"] for e in second["employees"]["edges"]] == ["B2"]
    assert second["employees"]["pageInfo"]["hasNextPage"] is False
    managed = await server.graphql(
        "query($m: ID) { employees(managerId: $m) { totalCount } }", {"m": str(BOSS)}
    )
    assert managed["data"]["employees"]["totalCount"] == 2


async def run(
    server: Server, mutation: str, input_: dict[str, Any], input_type: str | None = None
) -> dict[str, Any]:
    name = input_type or mutation[0].upper() + mutation[1:] + "Input"
    result = await server.graphql(
        f"""mutation($input: {name}!) {{ {mutation}(input: $input) {{
              __typename ... on CommandAccepted {{ position id version }}
              ... on CommandRejected {{ code message field }} }} }}""",
        {"input": input_},
    )
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"][mutation]
    return payload


async def test_every_command_is_reachable_and_its_rejections_are_specific(
    server: Server,
) -> None:
    await build_team(server)
    child = await run(server, "openDepartment", {"code": "KEY", "name": "Key accounts"})
    assert child["__typename"] == "CommandAccepted"
    moved = await run(
        server, "moveDepartment", {"departmentId": child["id"], "parentId": str(SALES)}
    )
    assert moved["__typename"] == "CommandAccepted"
    cycle = await run(
        server, "moveDepartment", {"departmentId": str(SALES), "parentId": child["id"]}
    )
    assert cycle["code"] == "DEPARTMENT_CYCLE"
    renamed = await run(server, "renameDepartment", {"departmentId": child["id"], "name": "KAM"})
    assert renamed["__typename"] == "CommandAccepted"
    transferred = await run(
        server,
        "transferEmployee",
        {"employeeId": str(BOB), "departmentId": child["id"], "effective": "2026-02-01"},
    )
    assert transferred["__typename"] == "CommandAccepted"
    manager_cycle = await run(
        server, "changeManager", {"employeeId": str(BOSS), "managerId": str(ALICE)}
    )
    assert manager_cycle["code"] == "MANAGER_CYCLE"
    assert manager_cycle["field"] == "managerId"
    rehomed = await run(server, "changeManager", {"employeeId": str(BOB), "managerId": str(ALICE)})
    assert rehomed["__typename"] == "CommandAccepted"
    attributes = await run(
        server,
        "setEmployeeAttributes",
        {"employeeId": str(ALICE), "attributes": [{"key": "Bad Key", "value": "x"}]},
    )
    assert attributes["code"] == "INVALID_INPUT"

    goal = await accepted(await server.graphql(SET_GOAL, goal_input(ALICE)), "setGoal")
    unconfirmed = await run(server, "confirmGoals", {"ownerId": str(ALICE), "period": "2026-Q1"})
    assert unconfirmed["code"] == "WEIGHTS_INCOMPLETE"
    no_reason = await run(server, "reviseTarget", {"goalId": goal["id"], "target": "9"})
    assert no_reason["code"] == "REASON_REQUIRED"
    revised = await run(
        server, "reviseTarget", {"goalId": goal["id"], "target": "9", "reason": "new market"}
    )
    assert revised["__typename"] == "CommandAccepted"
    rest = await accepted(
        await server.graphql(SET_GOAL, goal_input(ALICE, title="Renewals", weight="40")), "setGoal"
    )
    confirmed = await run(server, "confirmGoals", {"ownerId": str(ALICE), "period": "2026-Q1"})
    assert confirmed["__typename"] == "CommandAccepted"
    closed = await run(server, "closeGoal", {"goalId": goal["id"]}, "GoalReasonInput")
    assert closed["__typename"] == "CommandAccepted"
    closed_again = await run(server, "closeGoal", {"goalId": goal["id"]}, "GoalReasonInput")
    assert closed_again["code"] == "GOAL_NOT_OPEN"
    abandoned = await run(
        server, "abandonGoal", {"goalId": rest["id"], "reason": "merged"}, "GoalReasonInput"
    )
    assert abandoned["__typename"] == "CommandAccepted"

    bad_rules = await run(
        server,
        "defineRuleSet",
        {
            "description": "pilot",
            "achievementCap": "150",
            "perspectiveWeights": [{"perspective": "FINANCIAL", "weight": "60"}],
        },
    )
    assert bad_rules["code"] == "INVALID_RULE_SET"
    assert bad_rules["field"] == "perspectiveWeights"
    rules = await run(
        server,
        "defineRuleSet",
        {
            "description": "pilot",
            "achievementCap": "150",
            "tiers": [{"name": "A", "minScore": "80"}, {"name": "B", "minScore": "0"}],
        },
    )
    assert rules["version"] == 1
    adopted = await run(server, "adoptRuleSet", {"version": 1, "effectiveFrom": "2027-01-01"})
    assert adopted["__typename"] == "CommandAccepted"
    unknown = await run(server, "adoptRuleSet", {"version": 7, "effectiveFrom": "2027-01-01"})
    assert unknown["code"] == "NOT_FOUND"
    left = await run(server, "recordLeaving", {"employeeId": str(BOB), "leaveDate": "2026-06-30"})
    assert left["__typename"] == "CommandAccepted"
    gone = await run(server, "recordLeaving", {"employeeId": str(BOB), "leaveDate": "2026-07-01"})
    assert gone["code"] == "EMPLOYEE_HAS_LEFT"
    in_force = await server.graphql(
        'query($p: Int) { productionRules(on: "2027-03-01", minPosition: $p) { version } }',
        {"p": left["position"]},
    )
    assert in_force["data"]["productionRules"]["version"] == 1
