"""360 reviews end to end over HTTP: a real server, real PostgreSQL, bearer tokens, and a customer
who holds nothing but a review invitation.

The anonymity tests run every query that touches reviews as the reviewee and search the whole
serialised response for the raters' ids, names, codes, external references and per-rater fields.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from domain.provenance import Provenance, Role
from domain.reviews import appraisal_id
from service.application import department_id_for, employee_id_for
from service.bootstrap import build_application
from service.database import Database
from tests.conftest import make_settings
from tests.e2e import HR_PERSON, Server, running

TODAY = datetime.now(UTC).date()
PERIOD = str(TODAY.year)
SALES, SALES_EU, OPS = (department_id_for(c) for c in ("SALES", "SALES-EU", "OPS"))


@dataclass(frozen=True)
class Person:
    code: str
    name: str
    department: str
    manager: str | None = None

    @property
    def id(self) -> UUID:
        return employee_id_for(self.code)


BOSS = Person("B1", "Bo Boss", "SALES")
ALICE = Person("A1", "Alice Reviewee", "SALES", "B1")
BOB = Person("B2", "Bob Reviewee", "SALES", "B1")
PEERS = [
    Person("PEER-X", "Xanthe Peerless", "SALES-EU", "B1"),
    Person("PEER-Y", "Yorick Peerless", "SALES-EU", "B1"),
    Person("PEER-Z", "Zelda Peerless", "SALES-EU", "B1"),
]
PX, PY, PZ = PEERS
LEAVER = Person("L1", "Leila Left", "SALES-EU", "B1")
OTTO = Person("O1", "Otto Named", "OPS")
OLGA = Person("O2", "Olga Outside", "OPS")
EVERYONE = [BOSS, ALICE, BOB, *PEERS, LEAVER, OTTO, OLGA]
CUSTOMER_REF = "ACME-42"
CUSTOMER_COMMENT = "Customer note: slow to answer tickets"
BOB_PEER_COMMENTS = ["Bob peer secret one", "Bob peer secret two"]
ALICE_PEER_COMMENTS = ["Peer note alpha", "Peer note beta", "Peer note gamma"]

RESULT = "__typename ... on CommandAccepted { position id } ... on CommandRejected { code field }"


def mutation(name: str, input_type: str) -> str:
    return f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ {RESULT} }} }}"


SUBMIT = mutation("submitReview", "ReviewInput")
SAVE_DRAFT = mutation("saveReviewDraft", "ReviewInput")
ASSIGN = mutation("assignPeerRater", "AssignPeerRaterInput")
SUBMIT_EXTERNAL = mutation("submitExternalReview", "ExternalReviewInput")
INVITE = """mutation($input: InviteCustomerRaterInput!) { inviteCustomerRater(input: $input) {
  __typename ... on InvitationIssued { position token raterKey expiresAt }
  ... on CommandRejected { code field } } }"""
FORM = """{ externalReviewForm { cycleName expiresAt submissionsDue reviewee { name jobTitle }
  competencies { key name levels } scale { minimum maximum labels } } }"""

SCORECARD_FIELDS = """
  cycleId period status ruleSetVersion kpiScore kpiFrozen reviewScore finalScore
  calibratedScore score tier
  sources { source anonymous withheld submitted counted score effectiveWeight contribution note
            competencies { key observations meanRating score } comments }
  components { name ruleWeight effectiveWeight score contribution }
  proposals { ruleKey because approved reward { kind summary percentOfSalary } }
  rewards { id summary origin ruleKey }
  feedback { praise improvement oneOnOne }
  employee { id code name jobTitle }
  department { id code name }
"""


def ratings(communication: int | None, delivery: int | None) -> list[dict[str, Any]]:
    return [
        {"competency": key, "value": value, "notObserved": value is None}
        for key, value in (("communication", communication), ("delivery", delivery))
    ]


def levels(name: str) -> list[str]:
    return [f"{name} level {i}" for i in range(1, 6)]


@pytest.fixture
async def server(database: Database) -> AsyncIterator[Server]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=5.0)
    async with running(settings, database) as running_server:
        yield running_server


@dataclass
class Cycle:
    """What a run of the whole cycle leaves behind for the tests to read."""

    server: Server
    database: Database
    id: str
    position: int = 0

    async def as_(
        self, who: Person | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """As hr when ``who`` is None; the boss signs in as a manager, everyone else as an
        employee."""
        if who is None:
            role, employee = Role.HR, HR_PERSON
        else:
            role = Role.MANAGER if who is BOSS else Role.EMPLOYEE
            employee = who.id
        return await self.server.graphql(query, variables, role=role, employee=employee)

    async def accepted(
        self, who: Person | None, query: str, variables: dict[str, Any]
    ) -> dict[str, Any]:
        body = await self.as_(who, query, variables)
        assert "errors" not in body, body
        payload: dict[str, Any] = next(iter(body["data"].values()))
        assert payload["__typename"] != "CommandRejected", payload
        self.position = max(self.position, payload["position"])
        return payload

    async def rejected(
        self, who: Person | None, query: str, variables: dict[str, Any], code: str
    ) -> dict[str, Any]:
        body = await self.as_(who, query, variables)
        assert "errors" not in body, body
        payload: dict[str, Any] = next(iter(body["data"].values()))
        assert payload["__typename"] == "CommandRejected", payload
        assert payload["code"] == code, payload
        return payload

    async def submit(
        self, rater: Person, reviewee: Person, communication: int, delivery: int
    ) -> None:
        comments = f"{rater.code} about {reviewee.code}"
        await self.accepted(
            rater, SUBMIT, self.review(reviewee, communication, delivery, comments=comments)
        )

    def review(
        self, reviewee: Person, communication: int | None, delivery: int | None, comments: str = ""
    ) -> dict[str, Any]:
        return {
            "input": {
                "cycleId": self.id,
                "revieweeId": str(reviewee.id),
                "ratings": ratings(communication, delivery),
                "comments": comments,
            }
        }

    async def read(
        self, who: Person | None, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.as_(who, query, {**(variables or {}), "at": self.position})


async def external(server: Server, token: str, query: str, variables: Any = None) -> Any:
    response = await server.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def error_code(body: dict[str, Any]) -> str:
    codes = [e["extensions"]["code"] for e in body.get("errors", [])]
    assert codes, body
    return str(codes[0])


# -- the whole cycle, end to end -------------------------------------------------------------------


async def build_organisation(server: Server) -> None:
    for code, name, parent in (
        ("SALES", "Sales", None),
        ("SALES-EU", "Sales Europe", SALES),
        ("OPS", "Operations", None),
    ):
        body = await server.graphql(
            mutation("openDepartment", "OpenDepartmentInput"),
            {"input": {"code": code, "name": name, "parentId": str(parent) if parent else None}},
        )
        assert body["data"]["openDepartment"]["__typename"] == "CommandAccepted", body
    for person in EVERYONE:
        body = await server.graphql(
            mutation("hireEmployee", "HireEmployeeInput"),
            {
                "input": {
                    "code": person.code,
                    "name": person.name,
                    "departmentId": str(department_id_for(person.department)),
                    "managerId": str(employee_id_for(person.manager)) if person.manager else None,
                    "jobTitle": "Account manager",
                    "hireDate": "2022-01-10",
                }
            },
        )
        assert body["data"]["hireEmployee"]["__typename"] == "CommandAccepted", body
    body = await server.graphql(
        mutation("recordLeaving", "RecordLeavingInput"),
        {"input": {"employeeId": str(LEAVER.id), "leaveDate": str(TODAY - timedelta(days=1))}},
    )
    assert body["data"]["recordLeaving"]["__typename"] == "CommandAccepted", body


def cycle_input(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "Year-end 360",
        "period": PERIOD,
        "scope": {"departmentIds": [str(SALES)], "employeeIds": [str(OTTO.id)]},
        "competencies": [
            {
                "key": "communication",
                "name": "Communication",
                "weight": "60",
                "levels": levels("Communication"),
            },
            {"key": "delivery", "name": "Delivery", "weight": "40", "levels": levels("Delivery")},
        ],
        "scale": {"minimum": 1, "maximum": 5, "labels": ["poor", "fair", "good", "great", "top"]},
        "deadlines": {
            "submissionsDue": str(TODAY + timedelta(days=30)),
            "calibrationDue": str(TODAY + timedelta(days=40)),
        },
        "minPeerRaters": 3,
        "anonymityThreshold": 3,
    }
    values.update(overrides)
    return {"input": values}


async def expired_invitation(database: Database, cycle_id: UUID) -> str:
    """An invitation issued ten days ago for one day: the application records it as it would have
    then (only its clock is moved back)."""

    def invite() -> str:
        app = build_application(database, make_settings())
        try:
            invitation = app.invite_customer_rater(
                Provenance(str(HR_PERSON), Role.HR, "test"),
                cycle_id=cycle_id,
                reviewee_id=ALICE.id,
                external_ref="OLD-CO",
                valid_for=timedelta(days=1),
                now=datetime.now(UTC) - timedelta(days=10),
            )
        finally:
            app.close()
        return invitation.token

    return await asyncio.to_thread(invite)


async def run_cycle(server: Server, database: Database) -> Cycle:
    """Draft, open, choose raters, invite a customer, submit, calibrate and close, checking every
    refusal on the way."""
    await build_organisation(server)
    drafted = await server.graphql(
        mutation("draftReviewCycle", "DraftReviewCycleInput"), cycle_input()
    )
    cycle = Cycle(server, database, drafted["data"]["draftReviewCycle"]["id"])
    cycle_id = UUID(cycle.id)
    await cycle.rejected(
        None,
        mutation("changeCycleDeadlines", "ChangeCycleDeadlinesInput"),
        {
            "input": {
                "cycleId": cycle.id,
                "deadlines": cycle_input()["input"]["deadlines"],
            }
        },
        "REASON_REQUIRED",
    )
    await cycle.rejected(
        BOSS,
        "mutation($id: ID!) { openReviewCycle(cycleId: $id) { " + RESULT + " } }",
        {"id": cycle.id},
        "PERMISSION_DENIED",
    )
    await cycle.accepted(
        None,
        "mutation($id: ID!) { openReviewCycle(cycleId: $id) { " + RESULT + " } }",
        {"id": cycle.id},
    )

    # Raters: the boss chooses peers; three for Alice (k = 3), two for Bob.
    def assign(reviewee: Person, rater: Person) -> dict[str, Any]:
        return {
            "input": {"cycleId": cycle.id, "revieweeId": str(reviewee.id), "raterId": str(rater.id)}
        }

    for peer in PEERS:
        await cycle.accepted(BOSS, ASSIGN, assign(ALICE, peer))
    for peer in (PX, PY):
        await cycle.accepted(BOSS, ASSIGN, assign(BOB, peer))
    await cycle.rejected(BOSS, ASSIGN, assign(ALICE, ALICE), "SELF_AS_PEER")
    await cycle.rejected(BOSS, ASSIGN, assign(ALICE, PX), "RATER_ALREADY_ASSIGNED")
    await cycle.rejected(ALICE, ASSIGN, assign(BOB, PZ), "PERMISSION_DENIED")

    # A customer rates Alice with nothing but the token.
    invited = await cycle.accepted(
        BOSS,
        INVITE,
        {
            "input": {
                "cycleId": cycle.id,
                "revieweeId": str(ALICE.id),
                "externalRef": CUSTOMER_REF,
                "validForDays": 7,
            }
        },
    )
    token = invited["token"]
    assert token.startswith(f"rvw.{appraisal_id(cycle_id, ALICE.id).hex}.")
    form = await external(server, token, FORM)
    assert "errors" not in form, form
    assert form["data"]["externalReviewForm"]["reviewee"] == {
        "name": ALICE.name,
        "jobTitle": "Account manager",
    }
    assert form["data"]["externalReviewForm"]["competencies"][0]["levels"] == levels(
        "Communication"
    )
    customer_review = {"input": {"ratings": ratings(2, 3), "comments": CUSTOMER_COMMENT}}
    out_of_scale = {"input": {"ratings": ratings(0, 3)}}
    result = await external(server, token, SUBMIT_EXTERNAL, out_of_scale)
    assert result["data"]["submitExternalReview"]["code"] == "RATING_OUT_OF_SCALE"
    result = await external(server, token, SUBMIT_EXTERNAL, customer_review)
    assert result["data"]["submitExternalReview"]["__typename"] == "CommandAccepted", result
    cycle.position = max(cycle.position, result["data"]["submitExternalReview"]["position"])
    again = await external(server, token, SUBMIT_EXTERNAL, customer_review)
    assert again["data"]["submitExternalReview"]["code"] == "EXTERNAL_TOKEN_USED"
    assert error_code(await external(server, token, FORM)) == "EXTERNAL_TOKEN_USED"
    forged = f"rvw.{appraisal_id(cycle_id, ALICE.id).hex}.{'x' * 43}"
    result = await external(server, forged, SUBMIT_EXTERNAL, customer_review)
    assert result["data"]["submitExternalReview"]["code"] == "EXTERNAL_TOKEN_INVALID"
    expired = await expired_invitation(database, cycle_id)
    result = await external(server, expired, SUBMIT_EXTERNAL, customer_review)
    assert result["data"]["submitExternalReview"]["code"] == "EXTERNAL_TOKEN_EXPIRED"
    assert error_code(await external(server, expired, FORM)) == "EXTERNAL_TOKEN_EXPIRED"
    await cycle.rejected(PX, SUBMIT_EXTERNAL, customer_review, "PERMISSION_DENIED")

    # Reviews, and every way a submission is refused.
    await cycle.rejected(PZ, SUBMIT, cycle.review(BOB, 3, 3), "RATER_NOT_ASSIGNED")
    await cycle.rejected(PX, SUBMIT, cycle.review(ALICE, 9, 3), "RATING_OUT_OF_SCALE")
    missing = cycle.review(ALICE, 5, 4)
    missing["input"]["ratings"] = missing["input"]["ratings"][:1]
    await cycle.rejected(PX, SUBMIT, missing, "COMPETENCY_NOT_RATED")
    no_value = cycle.review(ALICE, 5, 4)
    no_value["input"]["ratings"][1] = {"competency": "delivery", "value": None}
    await cycle.rejected(PX, SUBMIT, no_value, "INVALID_INPUT")
    await cycle.accepted(PX, SAVE_DRAFT, cycle.review(ALICE, 5, None, comments="first thoughts"))
    own = await cycle.read(
        PX,
        """query($c: ID!, $r: ID!, $at: Int) { myReview(cycleId: $c, revieweeId: $r,
             minPosition: $at) { status comments ratings { competency value notObserved } } }""",
        {"c": cycle.id, "r": str(ALICE.id)},
    )
    assert own["data"]["myReview"] == {
        "status": "DRAFT",
        "comments": "first thoughts",
        "ratings": [
            {"competency": "communication", "value": 5, "notObserved": False},
            {"competency": "delivery", "value": None, "notObserved": True},
        ],
    }
    for peer, values, comment in zip(
        PEERS, ((5, 4), (3, 4), (4, None)), ALICE_PEER_COMMENTS, strict=True
    ):
        await cycle.accepted(peer, SUBMIT, cycle.review(ALICE, *values, comments=comment))
    await cycle.rejected(PX, SUBMIT, cycle.review(ALICE, 5, 4), "REVIEW_ALREADY_SUBMITTED")
    await cycle.submit(ALICE, ALICE, 4, 4)
    await cycle.submit(BOSS, ALICE, 4, 3)
    for peer, values, comment in zip((PX, PY), ((5, 5), (1, 1)), BOB_PEER_COMMENTS, strict=True):
        await cycle.accepted(peer, SUBMIT, cycle.review(BOB, *values, comments=comment))
    await cycle.submit(BOB, BOB, 3, 3)
    await cycle.submit(BOSS, BOB, 4, 4)

    # Calibration: nothing more is written; hr moves one rating and one result, with reasons.
    await cycle.accepted(
        None,
        "mutation($id: ID!) { startCalibration(cycleId: $id) { " + RESULT + " } }",
        {"id": cycle.id},
    )
    await cycle.rejected(OTTO, SUBMIT, cycle.review(OTTO, 3, 3), "CYCLE_NOT_IN_STATE")
    calibrate = {
        "input": {
            "cycleId": cycle.id,
            "revieweeId": str(ALICE.id),
            "raterKey": f"peer:{PY.id}",
            "competency": "communication",
            "value": 4,
        }
    }
    calibrate_rating = mutation("calibrateRating", "CalibrateRatingInput")
    await cycle.rejected(None, calibrate_rating, calibrate, "REASON_REQUIRED")
    calibrate["input"]["reason"] = "Consistent with the evidence of the other raters"
    await cycle.rejected(BOSS, calibrate_rating, calibrate, "PERMISSION_DENIED")
    await cycle.accepted(None, calibrate_rating, calibrate)
    await cycle.accepted(
        None,
        mutation("calibrateResult", "CalibrateResultInput"),
        {
            "input": {
                "cycleId": cycle.id,
                "revieweeId": str(BOB.id),
                "score": "80",
                "reason": "Calibration committee",
            }
        },
    )
    await cycle.accepted(
        None,
        "mutation($id: ID!) { closeReviewCycle(cycleId: $id) { " + RESULT + " } }",
        {"id": cycle.id},
    )
    await cycle.rejected(OTTO, SUBMIT, cycle.review(OTTO, 3, 3), "CYCLE_NOT_IN_STATE")
    return cycle


SCORECARD = (
    "query($c: ID!, $e: ID!, $at: Int) { cycleScorecard(cycleId: $c, employeeId: $e, "
    "minPosition: $at) {" + SCORECARD_FIELDS + "} }"
)


def by_source(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["source"]: s for s in card["sources"]}


async def test_a_whole_cycle_runs_end_to_end_over_graphql(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)

    listed = await cycle.read(
        None,
        """query($at: Int) { reviewCycles(status: CLOSED, minPosition: $at) { totalCount
             edges { node { id name status revieweeCount anonymityThreshold
                            appraisals(first: 50) { totalCount
                              edges { node { reviewee { code } status } } } } } } }""",
    )
    node = listed["data"]["reviewCycles"]["edges"][0]["node"]
    assert node["id"] == cycle.id
    assert node["status"] == "CLOSED"
    # The scope: Sales and its sub-department, plus Otto by name; Leila left, Olga is outside.
    reviewed = {e["node"]["reviewee"]["code"] for e in node["appraisals"]["edges"]}
    assert reviewed == {"B1", "A1", "B2", "PEER-X", "PEER-Y", "PEER-Z", "O1"}
    assert node["revieweeCount"] == 7

    alice = (await cycle.read(None, SCORECARD, {"c": cycle.id, "e": str(ALICE.id)}))["data"][
        "cycleScorecard"
    ]
    sources = by_source(alice)
    assert sources["PEER"]["withheld"] is False
    assert sources["PEER"]["submitted"] == 3
    means = {c["key"]: c["meanRating"] for c in sources["PEER"]["competencies"]}
    assert means == {"communication": "4.33", "delivery": "4.00"}  # calibrated 3 -> 4 counts
    # Manager 65, peers 80, self 75, weighted 50/20/10; the lone customer (withheld) is left
    # out, or the score would be 63.
    assert Decimal(alice["finalScore"]) == Decimal("70.00")
    assert alice["tier"] == "C"
    assert alice["status"] == "CLOSED"
    assert sorted(sources["PEER"]["comments"]) == sorted(ALICE_PEER_COMMENTS)

    bob = (await cycle.read(None, SCORECARD, {"c": cycle.id, "e": str(BOB.id)}))["data"][
        "cycleScorecard"
    ]
    assert Decimal(bob["calibratedScore"]) == Decimal("80.00")
    assert Decimal(bob["score"]) == Decimal("80.00")
    assert bob["tier"] == "B"
    assert [p["reward"]["kind"] for p in bob["proposals"]] == ["BONUS"]
    own = (await cycle.read(BOB, SCORECARD, {"c": cycle.id, "e": str(BOB.id)}))["data"][
        "cycleScorecard"
    ]
    assert own["proposals"] is None  # proposals are for those who approve them
    assert own["tier"] == "B"

    department = await cycle.read(
        None,
        """query($c: ID!, $d: ID!, $at: Int) { departmentCycleScorecard(cycleId: $c,
             departmentId: $d, includeSubDepartments: true, first: 2, minPosition: $at) {
             ruleSetVersion count mean median standardDeviation
             tiers { tier count percent guidelineMaxPercent overGuideline }
             members { totalCount pageInfo { hasNextPage } edges { node { employee { code } } } }
           } }""",
        {"c": cycle.id, "d": str(SALES)},
    )
    roll_up = department["data"]["departmentCycleScorecard"]
    assert roll_up["members"]["totalCount"] == 6
    assert roll_up["members"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["employee"]["code"] for e in roll_up["members"]["edges"]] == ["A1", "B1"]
    scored = {t["tier"]: t for t in roll_up["tiers"]}
    assert scored["A"]["guidelineMaxPercent"] == "20"
    assert roll_up["count"] == sum(t["count"] for t in roll_up["tiers"])
    assert roll_up["ruleSetVersion"] == 0

    forbidden = await cycle.read(
        ALICE,
        """query($c: ID!, $d: ID!, $at: Int) { departmentCycleScorecard(cycleId: $c,
             departmentId: $d, minPosition: $at) { count } }""",
        {"c": cycle.id, "d": str(SALES)},
    )
    assert error_code(forbidden) == "FORBIDDEN"


# -- a department's page of scorecards -------------------------------------------------------------

DEPARTMENT_PAGE = """query($c: ID!, $d: ID!, $first: Int!, $after: String, $at: Int) {
  departmentCycleScorecard(cycleId: $c, departmentId: $d, includeSubDepartments: true,
                           first: $first, after: $after, minPosition: $at) {
    ruleSetVersion count mean median standardDeviation
    tiers { tier count percent guidelineMaxPercent overGuideline }
    members { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { %s } } }
  } }"""


def members_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert "errors" not in body, body
    edges = body["data"]["departmentCycleScorecard"]["members"]["edges"]
    return {e["node"]["employee"]["code"]: e["node"] for e in edges}


async def test_a_department_page_shows_each_members_own_comments_and_none_of_a_withheld_source(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)
    fields = "employee { code name jobTitle } sources { source withheld comments }"
    variables = {"c": cycle.id, "d": str(SALES), "first": 200}

    # The boss manages everyone in Sales but is not hr: Bob's two peers stay withheld.
    page = members_of(await cycle.read(BOSS, DEPARTMENT_PAGE % fields, variables))
    assert set(page) == {"B1", "A1", "B2", "PEER-X", "PEER-Y", "PEER-Z"}  # self and below
    assert page["A1"]["employee"] == {
        "code": "A1",
        "name": ALICE.name,
        "jobTitle": "Account manager",
    }
    alice, bob = by_source(page["A1"]), by_source(page["B2"])
    assert sorted(alice["PEER"]["comments"]) == sorted(ALICE_PEER_COMMENTS)
    assert alice["MANAGER"]["comments"] == ["B1 about A1"]
    assert alice["SELF"]["comments"] == ["A1 about A1"]
    assert alice["CUSTOMER"] == {"source": "CUSTOMER", "withheld": True, "comments": None}
    assert bob["PEER"] == {"source": "PEER", "withheld": True, "comments": None}
    assert bob["MANAGER"]["comments"] == ["B1 about B2"]
    assert all(s["comments"] in ([], None) for s in page["PEER-X"]["sources"])

    # hr sees withheld sources' comments too, the same as on the person's own scorecard.
    as_hr = members_of(await cycle.read(None, DEPARTMENT_PAGE % fields, variables))
    bob = by_source(as_hr["B2"])
    assert sorted(bob["PEER"]["comments"]) == sorted(BOB_PEER_COMMENTS)
    own = (await cycle.read(None, SCORECARD, {"c": cycle.id, "e": str(BOB.id)}))["data"][
        "cycleScorecard"
    ]
    assert by_source(own)["PEER"]["comments"] == bob["PEER"]["comments"]


async def test_department_pages_follow_one_another_by_code_with_the_same_figures(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)
    variables = {"c": cycle.id, "d": str(SALES)}
    whole = await cycle.read(None, DEPARTMENT_PAGE % SCORECARD_FIELDS, {**variables, "first": 200})
    everyone = members_of(whole)
    assert list(everyone) == ["A1", "B1", "B2", "PEER-X", "PEER-Y", "PEER-Z"]
    for person in (ALICE, BOB):  # competencies, comments and all, as on their own scorecards
        own = await cycle.read(None, SCORECARD, {"c": cycle.id, "e": str(person.id)})
        assert everyone[person.code] == own["data"]["cycleScorecard"]

    # Asking for fewer fields (no comments, no competencies) changes none of those asked for.
    lean = "score tier kpiScore reviewScore employee { code name } " + (
        "sources { source withheld submitted score }"
    )
    slim = await cycle.read(None, DEPARTMENT_PAGE % lean, {**variables, "first": 200})
    for code, node in members_of(slim).items():
        full = everyone[code]
        assert {k: full[k] for k in ("score", "tier", "kpiScore", "reviewScore")} == {
            k: node[k] for k in ("score", "tier", "kpiScore", "reviewScore")
        }
        assert node["sources"] == [
            {k: s[k] for k in ("source", "withheld", "submitted", "score")} for s in full["sources"]
        ]

    # Two at a time, each page after the last one's cursor, with the whole department's figures.
    figures = {k: v for k, v in whole["data"]["departmentCycleScorecard"].items() if k != "members"}
    seen: list[str] = []
    after = None
    while True:
        body = await cycle.read(
            None, DEPARTMENT_PAGE % lean, {**variables, "first": 2, "after": after}
        )
        roll_up = body["data"]["departmentCycleScorecard"]
        assert {k: v for k, v in roll_up.items() if k != "members"} == figures
        assert roll_up["members"]["totalCount"] == 6
        page = members_of(body)
        assert len(page) <= 2
        seen += list(page)
        if not roll_up["members"]["pageInfo"]["hasNextPage"]:
            break
        after = roll_up["members"]["pageInfo"]["endCursor"]
    assert seen == list(everyone)
    scores = [Decimal(n["score"]) for n in everyone.values() if n["score"] is not None]
    assert figures["count"] == len(scores) == 2  # Alice and Bob; nobody rated the others
    assert Decimal(figures["mean"]) == (sum(scores, Decimal(0)) / 2).quantize(Decimal("0.01"))


# -- anonymity -----------------------------------------------------------------------------------


def every_review_query(cycle: Cycle, reviewee: Person) -> list[tuple[str, dict[str, Any]]]:
    """Every query that touches reviews, with every nested field, about ``reviewee``."""
    about = {"c": cycle.id, "e": str(reviewee.id)}
    appraisal = (
        "id cycleId status reviewee { id code name manager { code } } department { code } "
        "scorecard {" + SCORECARD_FIELDS + "}"
    )
    cycle_fields = (
        "id name period status minPeerRaters anonymityThreshold revieweeCount openedOn position "
        "scale { minimum maximum labels } competencies { key name weight levels } "
        "deadlines { submissionsDue calibrationDue } scope { departmentIds employeeIds }"
    )
    return [
        (
            "query($at: Int) { reviewCycles(minPosition: $at) { totalCount edges { node { "
            + cycle_fields
            + " appraisals { totalCount edges { node { "
            + appraisal
            + " } } } } } } }",
            {},
        ),
        (
            "query($c: ID!, $at: Int) { reviewCycle(id: $c, minPosition: $at) { "
            + cycle_fields
            + " appraisals(first: 200) { edges { node { "
            + appraisal
            + " } } } } }",
            {"c": cycle.id},
        ),
        (
            "query($c: ID!, $e: ID!, $at: Int) { appraisal(cycleId: $c, employeeId: $e, "
            "minPosition: $at) { " + appraisal + " } }",
            about,
        ),
        (SCORECARD, about),
        (
            "query($c: ID!, $at: Int) { myReviewAssignments(cycleId: $c, minPosition: $at) { "
            "source status reviewee { id code name } cycle { id name } "
            "review { status comments submittedAt ratings { competency value notObserved } } } }",
            {"c": cycle.id},
        ),
        (
            "query($at: Int) { myReviewAssignments(minPosition: $at) { source status "
            "reviewee { code } review { status comments ratings { competency value } } } }",
            {},
        ),
        (
            "query($c: ID!, $e: ID!, $at: Int) { myReview(cycleId: $c, revieweeId: $e, "
            "minPosition: $at) { status comments submittedAt ratings { competency value } } }",
            about,
        ),
        (
            "query($c: ID!, $d: ID!, $at: Int) { departmentCycleScorecard(cycleId: $c, "
            "departmentId: $d, includeSubDepartments: true, minPosition: $at) { count mean "
            "members { edges { node { " + SCORECARD_FIELDS + " } } } } }",
            {"c": cycle.id, "d": str(SALES)},
        ),
        (
            "query($c: ID!, $e: ID!, $at: Int) { appraisalRaters(cycleId: $c, revieweeId: $e, "
            "minPosition: $at) { raterKey source status externalRef rater { id code name } } }",
            about,
        ),
        (
            "query($c: ID!, $e: ID!, $at: Int) { reviewDetail(cycleId: $c, revieweeId: $e, "
            "minPosition: $at) { raters { raterKey externalRef comments rater { code name } "
            "ratings { competency submittedValue calibratedValue } } } }",
            about,
        ),
    ]


RATER_FIELDS = {"raterKey", "externalRef", "rater", "raters", "submittedValue", "calibratedValue"}


def keys_of(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys_of(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_of(item)


def identities(raters: list[Person]) -> list[str]:
    found = [CUSTOMER_REF, "ACME", "OLD-CO", "peer:", "customer:"]
    for rater in raters:
        found += [str(rater.id), rater.id.hex, rater.name, rater.code]
    return found


async def responses_for(cycle: Cycle, viewer: Person, reviewee: Person) -> list[dict[str, Any]]:
    return [await cycle.read(viewer, q, v) for q, v in every_review_query(cycle, reviewee)]


async def test_a_reviewee_never_reaches_a_rater_identity_through_any_query(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)
    secrets = [*identities(PEERS), CUSTOMER_COMMENT, *BOB_PEER_COMMENTS]
    for reviewee in (ALICE, BOB):
        responses = await responses_for(cycle, reviewee, reviewee)
        text = json.dumps(responses)
        leaked = [s for s in secrets if s in text]
        assert not leaked, (reviewee.code, leaked)
        assert not RATER_FIELDS & set(keys_of([r.get("data") for r in responses]))
        # The guarded views answer FORBIDDEN to the reviewee; the rest answers.
        assert error_code(responses[-1]) == "FORBIDDEN"
        assert error_code(responses[-2]) == "FORBIDDEN"
        assert error_code(responses[-3]) == "FORBIDDEN"
        assert all("errors" not in r for r in responses[:-3]), responses[:-3]
        card = responses[3]["data"]["cycleScorecard"]
        assert card["employee"]["code"] == reviewee.code
        sources = by_source(card)
        assert sources["MANAGER"]["withheld"] is False  # the manager is not anonymous
        assert sources["SELF"]["submitted"] == 1

    alice = by_source((await responses_for(cycle, ALICE, ALICE))[3]["data"]["cycleScorecard"])
    # One customer (k = 3): withheld, without numbers, count or comments.
    assert alice["CUSTOMER"] == {
        "source": "CUSTOMER",
        "anonymous": True,
        "withheld": True,
        "submitted": None,
        "counted": None,
        "score": None,
        "effectiveWeight": None,
        "contribution": None,
        "note": None,
        "competencies": [],
        "comments": None,
    }
    assert alice["PEER"]["submitted"] == 3
    assert sorted(alice["PEER"]["comments"]) == sorted(ALICE_PEER_COMMENTS)
    bob = by_source((await responses_for(cycle, BOB, BOB))[3]["data"]["cycleScorecard"])
    assert bob["PEER"]["withheld"] is True  # two peers, k = 3
    assert bob["PEER"]["submitted"] is None
    assert bob["PEER"]["comments"] is None
    assert bob["PEER"]["competencies"] == []
    # And withheld sources with nobody look the same as with too few.
    assert bob["CUSTOMER"]["withheld"] is True


async def test_a_peer_sees_their_own_review_and_nobody_elses(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)
    responses = await responses_for(cycle, PX, ALICE)
    text = json.dumps(responses)
    others = [
        *identities([PY, PZ]),
        CUSTOMER_COMMENT,
        "Peer note beta",
        "Peer note gamma",
        "Bob peer secret two",
    ]
    assert not [s for s in others if s in text]
    assignments = responses[4]["data"]["myReviewAssignments"]
    assert [(a["reviewee"]["code"], a["source"], a["status"]) for a in assignments] == [
        ("A1", "PEER", "SUBMITTED"),
        ("B2", "PEER", "SUBMITTED"),
        ("PEER-X", "SELF", "ASSIGNED"),
    ]
    assert assignments[0]["review"]["comments"] == "Peer note alpha"
    assert assignments[0]["review"]["ratings"] == [
        {"competency": "communication", "value": 5, "notObserved": False},
        {"competency": "delivery", "value": 4, "notObserved": False},
    ]
    # Alice's appraisal is not the peer's to see.
    assert error_code(responses[2]) == "FORBIDDEN"


async def test_managers_see_who_rates_but_never_what_each_rated(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)
    responses = await responses_for(cycle, BOSS, BOB)
    assert all("errors" not in r for r in responses[:-1]), responses[:-1]
    raters = responses[-2]["data"]["appraisalRaters"]
    assert {(r["source"], r["status"]) for r in raters} == {
        ("SELF", "SUBMITTED"),
        ("MANAGER", "SUBMITTED"),
        ("PEER", "SUBMITTED"),
    }
    assert {r["rater"]["code"] for r in raters if r["source"] == "PEER"} == {"PEER-X", "PEER-Y"}
    assert error_code(responses[-1]) == "FORBIDDEN"  # reviewDetail: hr, auditors, admins
    card = responses[3]["data"]["cycleScorecard"]
    assert by_source(card)["PEER"]["withheld"] is True
    text = json.dumps([r.get("data") for r in responses[:-2]])
    assert not [s for s in BOB_PEER_COMMENTS if s in text]
    assert not {"submittedValue", "calibratedValue"} & set(keys_of(responses))


async def test_hr_sees_raters_by_name_with_submitted_and_calibrated_values(
    server: Server, database: Database
) -> None:
    cycle = await run_cycle(server, database)
    detail = await cycle.read(
        None,
        """query($c: ID!, $e: ID!, $at: Int) { reviewDetail(cycleId: $c, revieweeId: $e,
             minPosition: $at) { calibratedScore appraisal { reviewee { code } }
             raters { raterKey source status externalRef comments submittedAt
                      rater { code name }
                      ratings { competency submittedValue calibratedValue calibrationReason
                                calibratedBy value } }
             scorecard { sources { source withheld submitted score comments } } } }""",
        {"c": cycle.id, "e": str(ALICE.id)},
    )
    assert "errors" not in detail, detail
    raters = {r["raterKey"]: r for r in detail["data"]["reviewDetail"]["raters"]}
    assert raters[f"peer:{PY.id}"]["rater"] == {"code": "PEER-Y", "name": PY.name}
    communication = raters[f"peer:{PY.id}"]["ratings"][0]
    assert communication == {
        "competency": "communication",
        "submittedValue": 3,
        "calibratedValue": 4,
        "calibrationReason": "Consistent with the evidence of the other raters",
        "calibratedBy": str(HR_PERSON),
        "value": 4,
    }
    customer = raters[f"customer:{CUSTOMER_REF}"]
    assert customer["externalRef"] == CUSTOMER_REF
    assert customer["comments"] == CUSTOMER_COMMENT
    assert customer["status"] == "SUBMITTED"
    assert raters["customer:OLD-CO"]["status"] == "ASSIGNED"
    sources = by_source(detail["data"]["reviewDetail"]["scorecard"])
    # hr sees the withheld source's figures and comments too.
    assert sources["CUSTOMER"]["withheld"] is True
    assert sources["CUSTOMER"]["submitted"] == 1
    assert sources["CUSTOMER"]["comments"] == [CUSTOMER_COMMENT]


# -- the customer's narrow door -------------------------------------------------------------------


async def test_an_invitation_token_opens_only_the_review_form_and_its_submission(
    server: Server, database: Database
) -> None:
    await build_organisation(server)
    drafted = await server.graphql(
        mutation("draftReviewCycle", "DraftReviewCycleInput"), cycle_input()
    )
    cycle = Cycle(server, database, drafted["data"]["draftReviewCycle"]["id"])
    await cycle.accepted(
        None,
        "mutation($id: ID!) { openReviewCycle(cycleId: $id) { " + RESULT + " } }",
        {"id": cycle.id},
    )
    invite = {"input": {"cycleId": cycle.id, "revieweeId": str(ALICE.id), "externalRef": "GLOBEX"}}
    first = (await cycle.accepted(None, INVITE, invite))["token"]
    second = (await cycle.accepted(None, INVITE, invite))["token"]
    assert error_code(await external(server, first, FORM)) == "EXTERNAL_TOKEN_INVALID"  # replaced
    form = await external(server, second, FORM)
    assert form["data"]["externalReviewForm"]["cycleName"] == "Year-end 360"

    for query in (
        "{ employees { totalCount } }",
        "{ externalReviewForm { cycleName } viewer { role } }",
        "{ alias: reviewCycles { totalCount } }",
        "query { ...F } fragment F on Query { employees { edges { node { name } } } }",
        "{ __schema { types { name } } }",
        'mutation { recordLeaving(input: {employeeId: "x", leaveDate: "2026-01-01"}) '
        "{ __typename } }",
    ):
        refused = await external(server, second, query)
        assert refused["data"] is None
        assert error_code(refused) == "FORBIDDEN", query

    employee = await cycle.as_(ALICE, FORM)
    assert error_code(employee) == "FORBIDDEN"
    malformed = await server.client.post(
        "/graphql", json={"query": FORM}, headers={"Authorization": "Bearer rvw.nothex.short"}
    )
    assert malformed.status_code == 401


async def test_an_hr_person_under_review_sees_their_own_appraisal_as_a_reviewee(
    server: Server, database: Database
) -> None:
    """hr sees raters' identities, but never about themselves: anonymity follows the person."""
    cycle = await run_cycle(server, database)
    secrets = [*identities(PEERS), CUSTOMER_COMMENT, *BOB_PEER_COMMENTS]
    # The queries about Bob himself (lists of the whole cycle legitimately name the peers, who
    # are reviewees too, and show hr everyone else's raters).
    about_bob = [(q, v) for q, v in every_review_query(cycle, BOB) if "e" in v]
    responses = [
        await server.graphql(q, {**v, "at": cycle.position}, role=Role.HR, employee=BOB.id)
        for q, v in about_bob
    ]
    text = json.dumps(responses)
    assert not [s for s in secrets if s in text]
    assert error_code(responses[-1]) == "FORBIDDEN"  # reviewDetail
    assert error_code(responses[-2]) == "FORBIDDEN"  # appraisalRaters
    (card,) = [
        r["data"]["cycleScorecard"] for r in responses if "cycleScorecard" in (r.get("data") or {})
    ]
    bob = by_source(card)
    assert bob["PEER"]["withheld"] is True
    assert bob["PEER"]["submitted"] is None
