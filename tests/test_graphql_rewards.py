"""Rewards end to end over HTTP: grant, read back what each role may see, revoke, approve a rule's
proposal, and add up the rewards that stand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.provenance import Provenance, Role
from domain.reviews import Competency, CycleDeadlines, CycleDefinition, RatingScale, ReviewCycle
from service.application import department_id_for, employee_id_for
from service.bootstrap import build_application
from service.database import Database
from tests.conftest import make_settings
from tests.e2e import Server, running

BOSS = employee_id_for("B1")
ALICE = employee_id_for("A1")
BOB = employee_id_for("B2")
SALES = department_id_for("SALES")

RESULT = (
    "{ __typename ... on CommandAccepted { position id } ... on CommandRejected { code field } }"
)
HIRE = f"mutation($input: HireEmployeeInput!) {{ hireEmployee(input: $input) {RESULT} }}"
GRANT = f"mutation($input: GrantRewardInput!) {{ grantReward(input: $input) {RESULT} }}"
REVOKE = f"mutation($input: RevokeRewardInput!) {{ revokeReward(input: $input) {RESULT} }}"
APPROVE = (
    "mutation($input: ApproveProposedRewardInput!) "
    f"{{ approveProposedReward(input: $input) {RESULT} }}"
)
REWARD_FIELDS = """
  id origin period grantedOn position grantedBy reason revoked revokedOn revokeReason
  spec { kind percentOfSalary days title summary amount { amount currency } }
  referenceSalary { amount currency }
  grantedAmount { amount currency }
  basis { cycleId ruleSetVersion ruleKey tier score }
  employee { code }
"""
REWARDS = f"""
query($employee: ID, $period: String, $revoked: Boolean! = true, $first: Int! = 50,
      $after: String, $at: Int) {{
  rewards(employeeId: $employee, period: $period, includeRevoked: $revoked, first: $first,
          after: $after, minPosition: $at) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    edges {{ node {{ {REWARD_FIELDS} }} }}
  }}
}}"""
REWARD = f"query($id: ID!, $at: Int) {{ reward(id: $id, minPosition: $at) {{ {REWARD_FIELDS} }} }}"
TOTALS = """
query($department: ID, $period: String, $at: Int) {
  rewardTotals(departmentId: $department, period: $period, minPosition: $at) {
    monetary { kind currency amount count }
    nonMonetary { kind count days }
  }
}"""


@pytest.fixture
async def server(database: Database) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=2.0)
    async with running(settings, database) as running_server:
        yield running_server


def payload(result: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in result, result
    data: dict[str, Any] = result["data"][field]
    return data


def accepted(result: dict[str, Any], field: str) -> dict[str, Any]:
    data = payload(result, field)
    assert data["__typename"] == "CommandAccepted", data
    return data


def rejected(result: dict[str, Any], field: str) -> tuple[str, str | None]:
    data = payload(result, field)
    assert data["__typename"] == "CommandRejected", data
    return data["code"], data["field"]


async def build_team(server: Server) -> None:
    """Bo manages Alice and Bob in Sales."""
    accepted(
        await server.graphql(
            'mutation { openDepartment(input: {code: "SALES", name: "Sales"}) '
            "{ __typename ... on CommandAccepted { position } } }"
        ),
        "openDepartment",
    )
    for code, name, manager in (("B1", "Bo", None), ("A1", "Alice", BOSS), ("B2", "Bob", BOSS)):
        employee = {
            "code": code,
            "name": name,
            "departmentId": str(SALES),
            "managerId": str(manager) if manager else None,
            "jobTitle": "Account manager",
            "hireDate": "2022-01-10",
        }
        accepted(await server.graphql(HIRE, {"input": employee}), "hireEmployee")


async def grant(server: Server, reward: dict[str, Any], **fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "employeeId": str(ALICE),
        "reward": reward,
        "reason": "closed the Lyon deal",
        "period": "2026-Q1",
    }
    values.update(fields)
    return await server.graphql(GRANT, {"input": values}, role=Role.MANAGER, employee=BOSS)


async def test_a_granted_reward_is_seen_with_its_reason_by_whom_it_concerns(
    server: Server,
) -> None:
    await build_team(server)
    bonus = {"kind": "BONUS", "percentOfSalary": "2.5", "title": "Q1 bonus"}
    salary = {"amount": "52000", "currency": "eur"}
    done = accepted(await grant(server, bonus, referenceSalary=salary), "grantReward")
    variables = {"id": done["id"], "at": done["position"]}
    for role, who in ((Role.EMPLOYEE, ALICE), (Role.MANAGER, BOSS), (Role.AUDITOR, UUID(int=7))):
        seen = payload(await server.graphql(REWARD, variables, role=role, employee=who), "reward")
        assert seen is not None, role
        assert seen["reason"] == "closed the Lyon deal"
    assert seen["origin"] == "MANUAL"
    assert seen["basis"] is None
    assert seen["employee"] == {"code": "A1"}
    assert seen["period"] == "2026-Q1"
    assert seen["grantedBy"] == str(BOSS)
    assert seen["position"] == done["position"]
    assert seen["spec"]["summary"] == "bonus 2.5% of salary “Q1 bonus”"
    assert seen["referenceSalary"] == {"amount": "52000", "currency": "EUR"}
    assert seen["grantedAmount"] == {"amount": "1300.00", "currency": "EUR"}
    # Bob, a colleague, sees none of it: not the reward, not Alice's list, not in his own.
    hidden = await server.graphql(REWARD, variables, role=Role.EMPLOYEE, employee=BOB)
    assert payload(hidden, "reward") is None
    forbidden = await server.graphql(
        REWARDS, {"employee": str(ALICE)}, role=Role.EMPLOYEE, employee=BOB
    )
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    own = payload(
        await server.graphql(REWARDS, {"at": done["position"]}, role=Role.EMPLOYEE, employee=BOB),
        "rewards",
    )
    assert own["totalCount"] == 0


async def test_grants_are_rejected_with_the_field_to_blame(server: Server) -> None:
    await build_team(server)
    share = {"kind": "COMMISSION", "percentOfSalary": "3"}
    assert rejected(await grant(server, share), "grantReward") == (
        "REFERENCE_SALARY_REQUIRED",
        "referenceSalary",
    )
    assert rejected(await grant(server, {"kind": "RECOGNITION"}), "grantReward") == (
        "INVALID_INPUT",
        "reward.title",
    )
    star = {"kind": "RECOGNITION", "title": "Star of the month"}
    assert rejected(await grant(server, star, reason=None), "grantReward") == (
        "REASON_REQUIRED",
        "reason",
    )
    assert rejected(await grant(server, star, employeeId=str(BOSS)), "grantReward")[0] == (
        "PERMISSION_DENIED"
    )
    by_auditor = await server.graphql(
        GRANT,
        {"input": {"employeeId": str(ALICE), "reward": star, "reason": "x"}},
        role=Role.AUDITOR,
    )
    assert rejected(by_auditor, "grantReward")[0] == "PERMISSION_DENIED"


async def test_rewards_revoke_over_graphql_keeps_the_grant_and_leaves_the_totals(
    server: Server,
) -> None:
    await build_team(server)
    eur = {"kind": "BONUS", "amount": {"amount": "500", "currency": "EUR"}}
    kept = accepted(await grant(server, eur), "grantReward")
    undone = accepted(await grant(server, eur, employeeId=str(BOB)), "grantReward")
    accepted(await grant(server, {"kind": "EXTRA_LEAVE", "days": "1.5"}), "grantReward")
    accepted(await grant(server, {"kind": "EXTRA_LEAVE", "days": "2"}), "grantReward")
    accepted(
        await grant(server, {"kind": "BONUS", "amount": {"amount": "80", "currency": "USD"}}),
        "grantReward",
    )
    other = await grant(server, eur, period="2026-Q2")
    accepted(other, "grantReward")

    no_reason = await server.graphql(REVOKE, {"input": {"rewardId": undone["id"]}})
    assert rejected(no_reason, "revokeReward") == ("REASON_REQUIRED", "reason")
    by_bob = await server.graphql(
        REVOKE,
        {"input": {"rewardId": kept["id"], "reason": "mine"}},
        role=Role.MANAGER,
        employee=BOB,
    )
    assert rejected(by_bob, "revokeReward")[0] == "PERMISSION_DENIED"
    revoke = {"input": {"rewardId": undone["id"], "reason": "paid twice"}}
    done = accepted(
        await server.graphql(REVOKE, revoke, role=Role.MANAGER, employee=BOSS), "revokeReward"
    )
    again = await server.graphql(REVOKE, revoke)
    assert rejected(again, "revokeReward")[0] == "REWARD_ALREADY_REVOKED"

    seen = payload(
        await server.graphql(REWARD, {"id": undone["id"], "at": done["position"]}), "reward"
    )
    assert seen["revoked"] is True
    assert seen["revokeReason"] == "paid twice"
    assert seen["reason"] == "closed the Lyon deal"
    assert seen["grantedAmount"] == {"amount": "500", "currency": "EUR"}
    all_q1 = payload(await server.graphql(REWARDS, {"period": "2026-Q1"}), "rewards")
    standing = payload(
        await server.graphql(REWARDS, {"period": "2026-Q1", "revoked": False}), "rewards"
    )
    assert (all_q1["totalCount"], standing["totalCount"]) == (5, 4)

    totals = payload(
        await server.graphql(TOTALS, {"department": str(SALES), "period": "2026-Q1"}),
        "rewardTotals",
    )
    assert totals["monetary"] == [
        {"kind": "BONUS", "currency": "EUR", "amount": "500", "count": 1},
        {"kind": "BONUS", "currency": "USD", "amount": "80", "count": 1},
    ]
    assert totals["nonMonetary"] == [{"kind": "EXTRA_LEAVE", "count": 2, "days": "3.5"}]
    everything = payload(await server.graphql(TOTALS, {}), "rewardTotals")
    assert everything["monetary"][0] == {
        "kind": "BONUS",
        "currency": "EUR",
        "amount": "1000",
        "count": 2,
    }
    as_manager = await server.graphql(TOTALS, {}, role=Role.MANAGER, employee=BOSS)
    assert as_manager["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_rewards_page_newest_first(server: Server) -> None:
    await build_team(server)
    star = {"kind": "RECOGNITION", "title": "Star of the month"}
    done = [accepted(await grant(server, star), "grantReward") for _ in range(3)]
    ids = [d["id"] for d in done]
    at = done[-1]["position"]
    first = payload(await server.graphql(REWARDS, {"first": 2, "at": at}), "rewards")
    assert [e["node"]["id"] for e in first["edges"]] == [ids[2], ids[1]]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = payload(
        await server.graphql(REWARDS, {"first": 2, "after": first["pageInfo"]["endCursor"]}),
        "rewards",
    )
    assert [e["node"]["id"] for e in rest["edges"]] == [ids[0]]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 3


def closed_cycle(server: Server, database: Database) -> UUID:
    """A closed review cycle over Alice and Bob, written straight to the service's store."""
    hr = Provenance(str(UUID(int=1)), Role.HR, "test")
    cycle = ReviewCycle.draft(
        uuid4(),
        CycleDefinition(
            name="Q1 review",
            period="2026-Q1",
            scope_departments=[SALES],
            scope_employees=[],
            competencies=[Competency("teamwork", "Teamwork", Decimal(100), ["low", "high"])],
            scale=RatingScale(0, 1),
            deadlines=CycleDeadlines(date(2026, 4, 15), date(2026, 4, 30)),
        ),
        hr,
    )
    cycle.open([ALICE, BOB], date(2026, 4, 1), hr)
    cycle.start_calibration(hr)
    cycle.close(hr)
    app = build_application(database, server.settings)
    try:
        app.save(cycle)
    finally:
        app.close()
    return cycle.id


async def test_hr_approves_a_proposal_once_and_it_names_its_rule(
    server: Server, database: Database
) -> None:
    await build_team(server)
    cycle_id = closed_cycle(server, database)
    proposal = {
        "cycleId": str(cycle_id),
        "employeeId": str(BOB),
        "ruleKey": "tier:A:0",
        "tier": "A",
        "score": "91.5",
        "referenceSalary": {"amount": "40000", "currency": "EUR"},
    }
    by_manager = await server.graphql(
        APPROVE, {"input": proposal}, role=Role.MANAGER, employee=BOSS
    )
    assert rejected(by_manager, "approveProposedReward")[0] == "PERMISSION_DENIED"
    done = accepted(await server.graphql(APPROVE, {"input": proposal}), "approveProposedReward")
    seen = payload(
        await server.graphql(REWARD, {"id": done["id"], "at": done["position"]}), "reward"
    )
    assert seen["origin"] == "RULES"
    assert seen["basis"] == {
        "cycleId": str(cycle_id),
        "ruleSetVersion": 0,
        "ruleKey": "tier:A:0",
        "tier": "A",
        "score": "91.5",
    }
    assert seen["grantedAmount"] == {"amount": "4000.00", "currency": "EUR"}
    assert seen["period"] == "2026-Q1"
    assert "rule tier:A:0 of rule-set version 0" in seen["reason"]
    again = await server.graphql(APPROVE, {"input": proposal})
    assert rejected(again, "approveProposedReward") == ("ALREADY_EXISTS", "ruleKey")
    unknown = await server.graphql(APPROVE, {"input": {**proposal, "ruleKey": "tier:A:9"}})
    assert rejected(unknown, "approveProposedReward") == ("NOT_FOUND", "ruleKey")
