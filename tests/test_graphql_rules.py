"""Rule sets over HTTP: a full rule set (360 weights, reward table, streak rule, distribution
guideline) is defined and read back exactly; one that does not add up is rejected naming the field,
and nothing is recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.provenance import Role
from service.database import Database
from tests.conftest import make_settings
from tests.e2e import Server, running

DEFINE = """
mutation($input: DefineRuleSetInput!) {
  defineRuleSet(input: $input) {
    __typename
    ... on CommandAccepted { position version }
    ... on CommandRejected { code message field }
  }
}"""
REWARD = "kind amount { amount currency } percentOfSalary days title summary"
RULE_SETS = f"""
query($at: Int) {{
  ruleSets(minPosition: $at) {{
    version description definedBy
    achievementCap kpiWeight reviewWeight
    tiers {{ name minScore }}
    sourceWeights {{ source weight }}
    competencyWeights {{ competency weight }}
    tierRewards {{ tier ruleKey reward {{ {REWARD} }} }}
    eligibility {{ key ruleKey metric consecutiveMonths reward {{ {REWARD} }} }}
    distribution {{ tier maxPercent }}
  }}
}}"""

FULL: dict[str, Any] = {
    "description": "Pilot: 360 reviews count 40%",
    "achievementCap": "130",
    "tiers": [
        {"name": "A", "minScore": "90"},
        {"name": "B", "minScore": "75"},
        {"name": "C", "minScore": "60"},
        {"name": "D", "minScore": "0"},
    ],
    "kpiWeight": "60",
    "reviewWeight": "40.0",
    "sourceWeights": [
        {"source": "MANAGER", "weight": "50"},
        {"source": "PEER", "weight": "20"},
        {"source": "CUSTOMER", "weight": "20.00"},
        {"source": "SELF", "weight": "10"},
    ],
    "competencyWeights": [
        {"competency": "teamwork", "weight": "40"},
        {"competency": "customer_focus", "weight": "60"},
    ],
    "tierRewards": [
        {"tier": "C", "reward": {"kind": "TRAINING", "title": "Development plan with coach"}},
        {"tier": "A", "reward": {"kind": "BONUS", "percentOfSalary": "10"}},
        {"tier": "A", "reward": {"kind": "RECOGNITION", "title": "Top performer of the cycle"}},
        {"tier": "B", "reward": {"kind": "EXTRA_LEAVE", "days": "1.5"}},
    ],
    "eligibility": [
        {
            "key": "sales_streak",
            "metric": "sales_growth_monthly",
            "consecutiveMonths": 3,
            "reward": {"kind": "BONUS", "amount": {"amount": "1000.00", "currency": "eur"}},
        }
    ],
    "distribution": [{"tier": "A", "maxPercent": "20"}],
}


def reward(kind: str, **values: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "kind": kind,
        "amount": None,
        "percentOfSalary": None,
        "days": None,
        "title": None,
    }
    spec.update(values)
    return spec


@pytest.fixture
async def server(database: Database) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=1.0)
    async with running(settings, database) as running_server:
        yield running_server


async def define(server: Server, input_: dict[str, Any], role: Role = Role.HR) -> dict[str, Any]:
    result = await server.graphql(DEFINE, {"input": input_}, role=role)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["defineRuleSet"]
    return payload


async def test_a_full_rule_set_is_defined_and_read_back_exactly(server: Server) -> None:
    defined = await define(server, FULL)
    assert defined["__typename"] == "CommandAccepted", defined
    assert defined["version"] == 1

    result = await server.graphql(RULE_SETS, {"at": defined["position"]})
    assert "errors" not in result, result
    built_in, version = result["data"]["ruleSets"]
    assert built_in["version"] == 0
    assert (built_in["kpiWeight"], built_in["reviewWeight"]) == ("60", "40")
    assert version["version"] == 1
    assert (version["kpiWeight"], version["reviewWeight"]) == ("60", "40.0")
    assert version["sourceWeights"] == [
        {"source": "CUSTOMER", "weight": "20.00"},
        {"source": "MANAGER", "weight": "50"},
        {"source": "PEER", "weight": "20"},
        {"source": "SELF", "weight": "10"},
    ]
    assert version["competencyWeights"] == [
        {"competency": "customer_focus", "weight": "60"},
        {"competency": "teamwork", "weight": "40"},
    ]
    assert [(r["tier"], r["ruleKey"]) for r in version["tierRewards"]] == [
        ("A", "tier:A:0"),
        ("A", "tier:A:1"),
        ("B", "tier:B:0"),
        ("C", "tier:C:0"),
    ]
    assert [r["reward"] for r in version["tierRewards"]] == [
        reward("BONUS", percentOfSalary="10", summary="bonus 10% of salary"),
        reward(
            "RECOGNITION",
            title="Top performer of the cycle",
            summary="recognition “Top performer of the cycle”",
        ),
        reward("EXTRA_LEAVE", days="1.5", summary="extra leave 1.5 days"),
        reward(
            "TRAINING",
            title="Development plan with coach",
            summary="training “Development plan with coach”",
        ),
    ]
    assert version["eligibility"] == [
        {
            "key": "sales_streak",
            "ruleKey": "eligibility:sales_streak",
            "metric": "sales_growth_monthly",
            "consecutiveMonths": 3,
            "reward": reward(
                "BONUS",
                amount={"amount": "1000.00", "currency": "EUR"},
                summary="bonus 1000.00 EUR",
            ),
        }
    ]
    assert version["distribution"] == [{"tier": "A", "maxPercent": "20"}]


@pytest.mark.parametrize(
    ("change", "code", "field", "message"),
    [
        (
            {"reviewWeight": "30"},
            "INVALID_RULE_SET",
            "reviewWeight",
            "kpiWeight 60 and reviewWeight 30 total 90; they must total 100",
        ),
        (
            {"sourceWeights": [{"source": "MANAGER", "weight": "50"}]},
            "INVALID_RULE_SET",
            "sourceWeights",
            "sourceWeights total 50; they must total 100",
        ),
        (
            {
                "sourceWeights": [
                    {"source": "MANAGER", "weight": "100"},
                    {"source": "PEER", "weight": "0"},
                ]
            },
            "INVALID_RULE_SET",
            "sourceWeights.peer",
            "sourceWeights.peer is 0; it must be positive",
        ),
        (
            {"competencyWeights": [{"competency": "teamwork", "weight": "90"}]},
            "INVALID_RULE_SET",
            "competencyWeights",
            "competencyWeights total 90; they must total 100",
        ),
        (
            {"tierRewards": [{"tier": "S", "reward": {"kind": "TRAINING", "title": "Course"}}]},
            "INVALID_RULE_SET",
            "tierRewards[0].tier",
            "tierRewards[0].tier 'S' is not one of this rule set's tiers (A, B, C, D)",
        ),
        (
            {"tierRewards": [{"tier": "A", "reward": {"kind": "BONUS"}}]},
            "INVALID_INPUT",
            "tierRewards[0].reward.amount",
            None,
        ),
        (
            {"distribution": [{"tier": "E", "maxPercent": "5"}]},
            "INVALID_RULE_SET",
            "distribution[0].tier",
            None,
        ),
        (
            {"eligibility": [{**FULL["eligibility"][0], "consecutiveMonths": 13}]},
            "INVALID_RULE_SET",
            "eligibility[0].consecutiveMonths",
            "eligibility[0].consecutiveMonths is 13; it must lie between 1 and 12",
        ),
        (
            {"eligibility": [FULL["eligibility"][0], FULL["eligibility"][0]]},
            "INVALID_RULE_SET",
            "eligibility[1].key",
            None,
        ),
    ],
)
async def test_a_rule_set_that_does_not_add_up_is_rejected_naming_the_field(
    server: Server, change: dict[str, Any], code: str, field: str, message: str | None
) -> None:
    before = (await server.graphql("{ readModels { position } }"))["data"]["readModels"]
    rejected = await define(server, {**FULL, **change})
    assert rejected["__typename"] == "CommandRejected", rejected
    assert (rejected["code"], rejected["field"]) == (code, field)
    if message is not None:
        assert rejected["message"] == message
    after = (await server.graphql("{ readModels { position } }"))["data"]["readModels"]
    assert after == before


async def test_only_hr_defines_rule_sets(server: Server) -> None:
    rejected = await define(server, FULL, role=Role.MANAGER)
    assert rejected["code"] == "PERMISSION_DENIED"
