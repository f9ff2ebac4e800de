"""The dashboard at / in headless Chromium, against the real service on a seeded organisation:
sign-in, a manager's team with a fact recorded while the page is open, HR's distributions,
fairness charts and a trial's comparison, and an auditor's trail, chain status and as-of view.
Screenshots are saved under test-artifacts/dashboard/.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from domain.provenance import Role
from service.application import Perfledger
from service.bootstrap import build_application
from service.database import Database
from service.seed import seed_organisation
from service.seed_reviews import DEMO
from tests.browser import TIMEZONE, Dashboard, chromium, dashboard
from tests.conftest import make_settings, throwaway_database
from tests.e2e import Server, running
from tests.helpers import position

SEED = 11
PERIOD = "2026-Q3"
# Seeded facts end here; a measurement the tests record is dated on it, inside PERIOD.
THROUGH = date(2026, 8, 31)
EVIL_NAME = '<img src=x onerror="document.body.dataset.pwned=1">Eve'
RESULT = "__typename ... on CommandAccepted { id position } ... on CommandRejected { code message }"


@dataclass
class Organisation:
    server: Server
    manager: UUID
    reports: list[UUID]
    evil: UUID

    async def api(self, query: str, variables: dict[str, Any] | None = None, **who: Any) -> Any:
        body = await self.server.graphql(query, variables, **who)
        assert "errors" not in body, body
        return body["data"]

    def token(self, role: Role, employee: UUID) -> str:
        return self.server.token(role, employee)


@pytest.fixture(scope="module")
def scratch_database(admin_database: Database) -> Iterator[Database]:
    """One database for the whole module: seeding it once keeps the browser tests quick."""
    with throwaway_database(admin_database) as fresh:
        yield fresh


@pytest.fixture(scope="module")
def seeded(scratch_database: Database) -> Iterator[Perfledger]:
    application = build_application(scratch_database, make_settings())
    seed_organisation(application, employees=60, seed=SEED, through=THROUGH, reviews=DEMO)
    yield application
    application.close()


_LEAD = """
SELECT m.id, m.department_id FROM employees m
WHERE (SELECT count(*) FROM employees e WHERE e.manager_id = m.id) >= 3
  AND NOT EXISTS (SELECT 1 FROM employees e JOIN employees x ON x.manager_id = e.id
                  WHERE e.manager_id = m.id)
ORDER BY m.code LIMIT 1
"""


@pytest.fixture(scope="module")
async def organisation(
    seeded: Perfledger, scratch_database: Database
) -> AsyncIterator[Organisation]:
    settings = make_settings(run_projections=True, wait_timeout_seconds=30.0)
    async with running(settings, scratch_database) as server:
        await server.graphql("query($p: Int) { viewer { role } }", {"p": position(seeded)})
        await server.graphql(
            "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
            {"p": position(seeded)},
        )
        conn = await asyncpg.connect(**scratch_database.asyncpg_kwargs())
        try:
            lead = await conn.fetchrow(_LEAD)
            assert lead is not None
            reports = await conn.fetch(
                "SELECT id FROM employees WHERE manager_id = $1 ORDER BY code", lead["id"]
            )
        finally:
            await conn.close()
        # Someone whose name and title are markup: the page must show them as text.
        hired = await server.graphql(
            f"mutation($i: HireEmployeeInput!) {{ hireEmployee(input: $i) {{ {RESULT} }} }}",
            {
                "i": {
                    "code": "EVIL1",
                    "name": EVIL_NAME,
                    "departmentId": str(lead["department_id"]),
                    "managerId": str(lead["id"]),
                    "jobTitle": "<script>document.body.dataset.pwned=2</script>",
                    "hireDate": "2026-01-05",
                }
            },
        )
        accepted = hired["data"]["hireEmployee"]
        assert accepted["__typename"] == "CommandAccepted", accepted
        await server.graphql(
            "query($p: Int) { employees(first: 1, minPosition: $p) { totalCount } }",
            {"p": accepted["position"]},
        )
        yield Organisation(
            server=server,
            manager=UUID(str(lead["id"])),
            reports=[UUID(str(r["id"])) for r in reports],
            evil=UUID(accepted["id"]),
        )


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def page(browser: Browser, organisation: Organisation) -> AsyncIterator[Dashboard]:
    async with dashboard(browser, organisation.server.url) as tab:
        yield tab
        assert tab.script_errors == [], tab.script_errors


@dataclass
class Measured:
    """A measurement a test recorded, and the score it moved."""

    person: UUID
    goal: str
    position: int
    before: str
    after: str


async def measure(organisation: Organisation, person: UUID, goal: str, value: str) -> Measured:
    """Record ``value`` for ``goal`` on THROUGH (inside PERIOD), as hr, and read the owner's
    PERIOD score before and once the read models reflect it."""
    query = (
        "query($e: ID!, $p: String!, $m: Int) { "
        "scorecard(employeeId: $e, period: $p, minPosition: $m) { score } }"
    )
    before = await organisation.api(query, {"e": str(person), "p": PERIOD})
    recorded = await organisation.api(
        f"mutation($i: RecordProgressInput!) {{ recordProgress(input: $i) {{ {RESULT} }} }}",
        {"i": {"goalId": goal, "value": value, "asOf": THROUGH.isoformat(), "source": "test"}},
    )
    accepted = recorded["recordProgress"]
    assert accepted["__typename"] == "CommandAccepted", accepted
    after = await organisation.api(
        query, {"e": str(person), "p": PERIOD, "m": accepted["position"]}
    )
    return Measured(
        person,
        goal,
        accepted["position"],
        before["scorecard"]["score"],
        after["scorecard"]["score"],
    )


async def period_goals(organisation: Organisation, person: UUID) -> list[dict[str, Any]]:
    """The person's goals of PERIOD itself with their achievement, as the scorecard has it."""
    data = await organisation.api(
        "query($e: ID!, $p: String!) { scorecard(employeeId: $e, period: $p) { "
        "goals { goalId achievement } } "
        "employee(id: $e) { goals(period: $p) { id period baseline target } } }",
        {"e": str(person), "p": PERIOD},
    )
    achieved = {g["goalId"]: g["achievement"] for g in (data["scorecard"] or {}).get("goals", [])}
    return [
        {**goal, "achievement": achieved.get(goal["id"])}
        for goal in data["employee"]["goals"]
        if goal["period"] == PERIOD and goal["id"] in achieved
    ]


async def raise_a_score(organisation: Organisation, people: list[UUID]) -> Measured:
    """Put the first PERIOD goal below 90 % of the way of one of ``people`` on target."""
    for person in people:
        for goal in await period_goals(organisation, person):
            if Decimal(goal["achievement"] or 0) < 90:
                measured = await measure(organisation, person, goal["id"], goal["target"])
                assert measured.after != measured.before
                return measured
    raise AssertionError("no one has a goal below target to measure")


async def set_back_a_goal(
    organisation: Organisation, people: list[UUID], at_risk: set[str]
) -> Measured:
    """Measure a PERIOD goal not at risk yet back at its baseline: two thirds into the quarter
    with no progress, it falls behind the line."""
    for person in people:
        for goal in await period_goals(organisation, person):
            if goal["id"] not in at_risk and Decimal(goal["achievement"] or 0) > 0:
                return await measure(organisation, person, goal["id"], goal["baseline"])
    raise AssertionError("no one has a goal to set back")


def overlaps(period: str) -> bool:
    """Whether a goal's period shares a month with PERIOD (2026, 2026-Q3, 2026-07..09)."""
    return period in {"2026", PERIOD, "2026-07", "2026-08", "2026-09"}


async def test_sign_in_refuses_a_bad_token_and_never_puts_the_token_in_a_url(
    page: Dashboard, organisation: Organisation
) -> None:
    await page.open()
    await page.page.get_by_label("Bearer token", exact=True).fill("not-a-token")
    await page.page.get_by_role("button", name="Sign in", exact=True).click()
    refusal = page.page.get_by_role("alert")
    await expect(refusal).to_contain_text("Could not sign in")
    await expect(refusal).to_contain_text("the bearer token is invalid")
    await expect(refusal).to_contain_text("UNAUTHENTICATED")
    await page.screenshot("sign-in-refused")

    token = organisation.token(Role.MANAGER, organisation.manager)
    await page.sign_in(token)
    await expect(page.page.get_by_test_id("viewer-role")).to_have_text("manager")
    assert await page.page.evaluate("sessionStorage.getItem('perfledger.token')") == token
    # The token travels in headers only: no URL the page asked for carries it.
    assert page.urls
    assert not [url for url in page.urls if token in url or token[-20:] in url]

    await page.page.locator("#sign-out").click()
    await expect(page.page.get_by_role("heading", name="Sign in")).to_be_visible()
    await expect(page.page.get_by_text("You signed out.")).to_be_visible()
    assert await page.page.evaluate("sessionStorage.getItem('perfledger.token')") is None

    # An employee gets their own scorecard, goal by goal.
    employee = organisation.reports[0]
    await page.sign_in(organisation.token(Role.EMPLOYEE, employee))
    await expect(page.page.get_by_role("heading", level=1)).to_have_text("My scorecard")
    await page.page.get_by_label("Period", exact=True).fill(PERIOD)
    await page.page.get_by_role("button", name="Show", exact=True).click()
    mine = await organisation.api(
        "query($e: ID!, $p: String!) { "
        "scorecard(employeeId: $e, period: $p) { score goals { title } } }",
        {"e": str(employee), "p": PERIOD},
        role=Role.EMPLOYEE,
        employee=employee,
    )
    score = page.page.get_by_test_id("my-score").locator(".stat", has_text="score").first
    await expect(score.locator(".stat-value")).to_have_text(
        f"{Decimal(mine['scorecard']['score']):.2f}"
    )
    goals = page.page.get_by_role("table").filter(has_text="Goal by goal").locator("tbody tr")
    await expect(goals).to_have_count(len(mine["scorecard"]["goals"]))
    # Views for other roles are not offered.
    assert await page.page.get_by_role("link", name="Audit trail").count() == 0


async def test_a_manager_sees_the_team_and_recorded_facts_arrive_live(
    page: Dashboard, organisation: Organisation
) -> None:
    # Every socket the page opens goes through here, so that the test can cut it as a
    # restarting service would, and see what the page subscribes with.
    sockets: list[WebSocketRoute] = []
    subscribed: list[dict[str, Any]] = []

    def relay(socket: WebSocketRoute) -> None:
        server = socket.connect_to_server()

        def from_page(message: str | bytes) -> None:
            sent = json.loads(message)
            if sent.get("type") == "subscribe":
                subscribed.append(sent["payload"])
            server.send(message)

        socket.on_message(from_page)
        sockets.append(socket)

    await page.page.route_web_socket(re.compile(r"/graphql$"), relay)
    await page.sign_in(organisation.token(Role.MANAGER, organisation.manager))
    await expect(page.page.get_by_role("heading", level=1)).to_have_text("My team")
    await page.page.get_by_label("Period", exact=True).fill(PERIOD)
    await page.page.get_by_role("button", name="Show", exact=True).click()
    table = page.page.get_by_test_id("team-scorecards")
    await expect(table.locator("caption")).to_have_text(f"Scorecards for {PERIOD}")
    team = [*organisation.reports, organisation.evil]
    await expect(table.locator("tbody tr")).to_have_count(len(team))
    await expect(page.page.locator("#live-status")).to_have_text("Live")

    # Every score shown is the API's.
    for person in organisation.reports:
        card = await organisation.api(
            "query($e: ID!, $p: String!) { scorecard(employeeId: $e, period: $p) { score } }",
            {"e": str(person), "p": PERIOD},
        )
        shown = table.locator(f'tr[data-employee="{person}"] .score-number')
        await expect(shown).to_have_text(f"{Decimal(card['scorecard']['score']):.2f}")

    # Names are text, never markup.
    evil_row = table.locator(f'tr[data-employee="{organisation.evil}"]')
    await expect(evil_row.locator(".person-name")).to_have_text(EVIL_NAME)
    assert await evil_row.locator("img, script").count() == 0
    assert await page.page.evaluate("document.body.dataset.pwned") is None

    coverage = page.page.get_by_role("region", name="1:1 coverage")
    await expect(coverage.locator("tbody tr")).to_have_count(len(team))

    # The goals at risk are the API's, for the goals of the period shown.
    alerts = (
        await organisation.api(
            "query($m: ID) { atRiskGoals(managerId: $m) { goal { id period } } }",
            {"m": str(organisation.manager)},
            role=Role.MANAGER,
            employee=organisation.manager,
        )
    )["atRiskGoals"]
    shown_alerts = [a for a in alerts if overlaps(a["goal"]["period"])]
    at_risk = page.page.get_by_role("region", name="Goals at risk")
    await expect(at_risk.get_by_test_id("at-risk-count")).to_have_text(
        f"{len(shown_alerts)} goals of {PERIOD} behind the line."
    )

    # A measurement recorded now arrives without a reload.
    raised = await raise_a_score(organisation, organisation.reports)
    row = table.locator(f'tr[data-employee="{raised.person}"]')
    await expect(row.locator(".score-number")).to_have_text(f"{Decimal(raised.after):.2f}")
    activity = page.page.get_by_role("region", name="Live activity")
    name = await row.locator(".person-name").text_content()
    progress = (
        activity.locator(".feed li").filter(has_text=f"{name}: “").filter(has_text="measured")
    )
    await expect(progress).to_have_count(1)

    # The service goes away; what is recorded meanwhile arrives once the page is back, and it
    # subscribes again from the last position it saw.
    before_drop = len(subscribed)
    await sockets[-1].close(code=1012, reason="service restarting")
    set_back = await set_back_a_goal(
        organisation,
        [p for p in organisation.reports if p != raised.person],
        {alert["goal"]["id"] for alert in alerts},
    )
    row = table.locator(f'tr[data-employee="{set_back.person}"]')
    await expect(row.locator(".score-number")).to_have_text(f"{Decimal(set_back.after):.2f}")
    show_all = at_risk.get_by_role("button", name="Show all")
    if await show_all.count():
        await show_all.click()
    await expect(at_risk.locator(f'tr[data-goal="{set_back.goal}"]')).to_be_visible()
    await expect(page.page.locator("#live-status")).to_have_text("Live")
    resumed = [
        payload["variables"]
        for payload in subscribed[before_drop:]
        if "scorecardUpdated" in payload["query"]
    ]
    assert resumed, subscribed
    assert all(variables["afterPosition"] >= raised.position for variables in resumed)
    await page.screenshot("manager-team")


async def test_hr_sees_distributions_fairness_charts_and_a_trial_against_production(
    page: Dashboard, organisation: Organisation
) -> None:
    await page.sign_in(organisation.token(Role.HR, organisation.manager))
    await expect(page.page.get_by_role("heading", level=1)).to_have_text("Departments")
    await page.page.get_by_label("Period", exact=True).fill(PERIOD)
    await page.page.get_by_role("button", name="Show", exact=True).click()
    scores = page.page.get_by_role("region", name="KPI scores")
    home = await organisation.api(
        "query($e: ID!) { employee(id: $e) { department { id } } }",
        {"e": str(organisation.manager)},
    )
    distribution = (
        await organisation.api(
            "query($d: ID!, $p: String!) { departmentScorecard(departmentId: $d, period: $p, "
            "includeSubDepartments: true) { distribution { count buckets { count } } } }",
            {"d": home["employee"]["department"]["id"], "p": PERIOD},
        )
    )["departmentScorecard"]["distribution"]
    await expect(scores.locator(".stat", has_text="scored").locator(".stat-value")).to_have_text(
        str(distribution["count"])
    )
    histogram = scores.locator("figure", has=page.page.locator("figcaption", has_text="Scores of"))
    await expect(histogram.locator("svg rect.bar")).to_have_count(len(distribution["buckets"]))
    await page.screenshot("hr-departments")

    # Fairness: the newest closed cycle, grouped by gender, contract and location.
    cycles = await organisation.api(
        "{ reviewCycles(status: CLOSED) { edges { node { id period } } } }"
    )
    closed = max((e["node"] for e in cycles["reviewCycles"]["edges"]), key=lambda c: c["period"])
    audit = (
        await organisation.api(
            "query($c: ID!) { fairnessAudit(cycleId: $c, "
            'groupBy: ["gender", "contract", "location"]) { flags { kind } reportJson } }',
            {"c": closed["id"]},
        )
    )["fairnessAudit"]
    await page.view("Fairness")
    report = page.page.get_by_role("region", name="Fairness audit")
    await expect(report.get_by_role("table").first.locator("caption")).to_have_text(
        "Findings flagged"
    )
    await expect(report.get_by_role("table").first.locator("tbody tr")).to_have_count(
        len(audit["flags"])
    )
    for caption in ("Tiers by gender", "Mean rating by contract", "Impact ratio of tier:"):
        await expect(report.locator("figcaption", has_text=caption).first).to_be_visible()
    # The caterpillar plot: one mark with its interval per rater the audit flags.
    leniency = json.loads(audit["reportJson"])["ratings"]["post"]["leniency"]
    for source in leniency:
        flagged = len(source.get("flagged", []))
        if not flagged:
            continue
        plot = report.locator(
            "figure",
            has=page.page.locator("figcaption", has_text=f"Rater leniency, {source['source']}"),
        )
        await expect(plot.locator("svg .dot")).to_have_count(flagged)
        await expect(plot.locator("svg line.whisker")).to_have_count(flagged)
    await page.screenshot("hr-fairness")

    # A recorded audit, re-run from what it recorded, reproduces its report.
    recorded = await organisation.api(
        'mutation($c: ID!) { runFairnessAudit(cycleId: $c, groupBy: ["gender"]) { auditId } }',
        {"c": closed["id"]},
    )
    assert recorded["runFairnessAudit"]["auditId"]
    await page.page.get_by_role("button", name="Run audit", exact=True).click()
    audits = page.page.get_by_role("region", name="Recorded audits")
    await expect(audits.locator("tbody tr")).to_have_count(1)
    await audits.get_by_role("button", name="Re-run", exact=True).click()
    await expect(report.get_by_role("status").filter(has_text="Re-run")).to_have_text(
        "✓ Re-run reproduced the recorded report exactly (same digest)."
    )

    # A trial: its pilot against production on its participants.
    defined = await organisation.api(
        f"mutation($i: DefineRuleSetInput!) {{ defineRuleSet(input: $i) {{ {RESULT} }} }}",
        {
            "i": {
                "description": "Pilot: heavier KPI",
                "achievementCap": "120",
                "kpiWeight": "85",
                "reviewWeight": "15",
                "sourceWeights": [
                    {"source": "MANAGER", "weight": "60"},
                    {"source": "PEER", "weight": "40"},
                ],
                "tiers": [
                    {"name": "A", "minScore": "90"},
                    {"name": "B", "minScore": "75"},
                    {"name": "C", "minScore": "60"},
                    {"name": "D", "minScore": "0"},
                ],
            }
        },
    )
    assert defined["defineRuleSet"]["__typename"] == "CommandAccepted", defined
    rules = await organisation.api(
        "query($m: Int) { ruleSets(minPosition: $m) { version description } }",
        {"m": defined["defineRuleSet"]["position"]},
    )
    pilot = next(
        r["version"] for r in rules["ruleSets"] if r["description"] == "Pilot: heavier KPI"
    )
    departments = await organisation.api(
        "{ departments(first: 50) { edges { node { id code } } } }"
    )
    sales = next(
        e["node"]["id"] for e in departments["departments"]["edges"] if e["node"]["code"] == "SALES"
    )
    started = await organisation.api(
        f"mutation($i: StartTrialInput!) {{ startTrial(input: $i) {{ {RESULT} }} }}",
        {
            "i": {
                "name": "Sales KPI pilot",
                "ruleSetVersion": pilot,
                "period": "2026",
                "departmentIds": [sales],
                "responsible": ["hr"],
                "reason": "heavier KPI weights",
            }
        },
    )
    assert started["startTrial"]["__typename"] == "CommandAccepted", started
    await organisation.api(
        "query($m: Int) { employees(first: 1, minPosition: $m) { totalCount } }",
        {"m": started["startTrial"]["position"]},
    )
    await page.view("Trials")
    trial_id = started["startTrial"]["id"]
    await expect(page.page.get_by_label("Trial", exact=True)).to_have_value(trial_id)
    cycle_id = await page.page.get_by_label("Review cycle", exact=True).input_value()
    comparison = (
        await organisation.api(
            "query($t: ID!, $c: ID!) { trialComparison(trialId: $t, cycleId: $c) { "
            "movedUp movedDown people { employeeId } tiers { tier production pilot } "
            "rewardCostsPilot { ...costs } rewardCostsProduction { ...costs } } } "
            "fragment costs on RewardCostSide { money { kind currency } "
            "salaryShares { kind percent } nonMonetary { kind } }",
            {"t": trial_id, "c": cycle_id},
        )
    )["trialComparison"]
    result = page.page.get_by_role("region", name="Production against the pilot")
    await expect(
        result.locator(".stat", has_text="participants compared").locator(".stat-value")
    ).to_have_text(str(len(comparison["people"])))
    await expect(
        result.locator(".stat", has_text="moved up a tier").locator(".stat-value")
    ).to_have_text(str(comparison["movedUp"]))
    tiers = result.locator(
        "figure", has=page.page.locator("figcaption", has_text="Tiers under production")
    )
    await expect(tiers.locator("svg rect.bar.production")).to_have_count(len(comparison["tiers"]))
    await expect(tiers.locator("svg rect.bar.pilot")).to_have_count(len(comparison["tiers"]))
    # The proposed rewards' bill: one line per kind of reward under either rule set.
    lines = {
        (part, tuple(sorted(line.items())))
        for side in ("rewardCostsPilot", "rewardCostsProduction")
        for part, entries in comparison[side].items()
        for line in entries
    }
    assert lines
    await expect(result.locator("table.reward-costs tbody tr")).to_have_count(len(lines))

    # A measurement of a participant's arrives as a new comparison, without a reload.
    participants = [UUID(person["employeeId"]) for person in comparison["people"]]
    measured = await raise_a_score(organisation, participants)
    status = result.locator(".panel-status")
    await expect(status).to_have_text(re.compile(r"^Updated live at log position \d+$"))
    shown_position = int((await status.text_content() or "").rsplit(" ", 1)[1])
    assert shown_position >= measured.position
    now = (
        await organisation.api(
            "query($t: ID!, $c: ID!) { trialComparison(trialId: $t, cycleId: $c) { "
            "position movedUp } }",
            {"t": trial_id, "c": cycle_id},
        )
    )["trialComparison"]
    assert now["position"] == shown_position
    await expect(
        result.locator(".stat", has_text="moved up a tier").locator(".stat-value")
    ).to_have_text(str(now["movedUp"]))
    await page.screenshot("hr-trial")


async def test_an_auditor_filters_the_trail_checks_the_chain_and_looks_back(
    page: Dashboard, organisation: Organisation
) -> None:
    auditor = organisation.token(Role.AUDITOR, organisation.manager)
    await page.sign_in(auditor)
    await expect(page.page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    await expect(page.page.get_by_test_id("chain-verdict")).to_contain_text("✓ Intact")

    await page.page.get_by_label("Event type", exact=True).fill("Goal.ProgressRecorded")
    await page.page.get_by_role("button", name="Apply", exact=True).click()
    trail = page.page.get_by_role("region", name="Audit trail")
    expected = await organisation.api(
        '{ auditTrail(filter: {eventType: "Goal.ProgressRecorded"}, first: 1) { totalCount } }',
        role=Role.AUDITOR,
    )
    total = expected["auditTrail"]["totalCount"]
    await expect(page.page.get_by_test_id("trail-count")).to_contain_text(
        f"{total:,} entries match"
    )
    events = trail.locator("tbody tr .event-type")
    await expect(events).to_have_count(25)
    assert set(await events.all_text_contents()) == {"Goal.ProgressRecorded"}
    first_page = [
        int(p) for p in await trail.locator("tbody tr td:first-child").all_text_contents()
    ]
    await trail.get_by_role("button", name="Next page →", exact=True).click()
    await expect(page.page.get_by_test_id("trail-count")).to_contain_text("page 2 of")
    second_page = [
        int(p) for p in await trail.locator("tbody tr td:first-child").all_text_contents()
    ]
    assert min(second_page) > max(first_page)

    # A name the directory does not know is refused with a message, before any request.
    await page.page.get_by_label("Employee", exact=True).fill("Nobody Anywhere")
    await page.page.get_by_role("button", name="Apply", exact=True).click()
    await expect(page.page.get_by_role("alert")).to_contain_text(
        "no one in the directory is called"
    )
    await page.screenshot("auditor-trail")

    # As of a moment before a new measurement: the scores as they were then, beside now's.
    moment = datetime.now(UTC).replace(microsecond=0)
    raised = await raise_a_score(organisation, organisation.reports)
    person, before, after = raised.person, raised.before, raised.after
    # The trail follows the log live: the new entry arrives under "Arriving now".
    arriving = page.page.get_by_role("region", name="Arriving now")
    await expect(arriving.locator(f'li[data-position="{raised.position}"]')).to_contain_text(
        "Goal.ProgressRecorded"
    )
    await page.view("As of")
    await page.page.get_by_label("Moment (your time zone)", exact=True).fill(
        moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%dT%H:%M:%S")
    )
    department = await organisation.api(
        "query($e: ID!) { employee(id: $e) { department { id } } }", {"e": str(person)}
    )
    await page.page.get_by_label("Department", exact=True).select_option(
        department["employee"]["department"]["id"]
    )
    await page.page.get_by_label("Period", exact=True).fill(PERIOD)
    await page.page.get_by_role("button", name="Show", exact=True).click()
    point = await organisation.api(
        "query($t: DateTime) { asOfPoint(asOf: $t) { position } }",
        {"t": moment.isoformat()},
        role=Role.AUDITOR,
    )
    shown_point = page.page.get_by_test_id("as-of-point")
    await expect(shown_point).to_have_attribute(
        "data-position", str(point["asOfPoint"]["position"])
    )
    row = page.page.locator(f'table.as-of tr[data-employee="{person}"]')
    await expect(row.locator("td").nth(1)).to_have_text(f"{Decimal(before):.2f}")
    await expect(row.locator("td").nth(3)).to_have_text(f"{Decimal(after):.2f}")
    await page.screenshot("auditor-as-of")

    # The API's own refusal is shown as it says it.
    await page.page.get_by_label("Moment (your time zone)", exact=True).fill("2099-01-01T00:00:00")
    await page.page.get_by_role("button", name="Show", exact=True).click()
    await expect(page.page.get_by_role("alert")).to_contain_text("is in the future")
