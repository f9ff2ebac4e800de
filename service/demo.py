"""The demo organisation loaded on first start, and tokens to explore it with."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid5

from domain.periods import Period
from domain.provenance import Provenance, Role
from domain.rules import DEFAULT_RULES
from projections.organisation import present_members
from service import auth
from service.bootstrap import Services
from service.seed import seed_organisation

log = logging.getLogger("perfledger.demo")

DEMO_SEED = 7
DEMO_TRIAL_ID = uuid5(UUID("6f1d6c2e-6a53-4f0e-9a44-4f57e3b0a001"), "demo-trial")
DEMO_HR = Provenance("demo", Role.HR, "demo", "a pilot for the demo: KPIs weigh more in Sales")
_LATEST_CLOSED_CYCLE = "SELECT max(period) FROM review_cycles WHERE status = 'closed'"


def demo_size() -> int:
    return int(os.environ.get("PERFLEDGER_DEMO_EMPLOYEES", "300"))


async def ensure_demo(services: Services) -> None:
    """Seed the demo organisation into an empty store, then print sign-in tokens."""
    recorder = services.app.recorder
    if await asyncio.to_thread(recorder.max_notification_id) is None:
        print(f"Loading the demo organisation ({demo_size()} employees)...", file=sys.stderr)
        summary = await asyncio.to_thread(
            seed_organisation, services.app, employees=demo_size(), seed=DEMO_SEED
        )
        print(
            f"Recorded {summary.events:,} events in {summary.seconds:.1f}s "
            f"({summary.rate:,.0f} events/s): {summary.cycles} review cycles with "
            f"{summary.reviews:,} reviews, {summary.feedback:,} feedback notes and "
            f"{summary.rewards:,} rewards.",
            file=sys.stderr,
        )
        await services.watcher.wait_for(summary.events, 120)
        await start_demo_trial(services)
    last = await asyncio.to_thread(recorder.max_notification_id) or 0
    await services.watcher.wait_for(last, 120)
    await print_tokens(services)


async def start_demo_trial(services: Services) -> None:
    """A running trial to explore: Sales pilots heavier KPI weights over the quarter of the
    latest closed review cycle (else the latest), so HR's dashboard and ``trialComparison`` show
    a comparison from the first start."""
    async with services.read_pool.acquire() as conn:
        sales = await conn.fetchval("SELECT id FROM departments WHERE code = 'SALES'")
        # The latest closed cycle: every review is in, so the comparison has the whole picture.
        period = await conn.fetchval(_LATEST_CLOSED_CYCLE) or await conn.fetchval(
            "SELECT max(period) FROM review_cycles"
        )
        if sales is None or period is None:
            return
        sales = UUID(str(sales))
        members = await present_members(conn, [sales])
    app = services.app

    def record() -> None:
        book = app.rule_book()
        production = book.version_in_force(Period.parse(period).start) if book else None
        base = book.versions[production] if book and production else DEFAULT_RULES
        pilot = replace(base, kpi_weight=Decimal(80), review_weight=Decimal(20))
        version = app.define_rule_set(DEMO_HR, pilot, "Pilot: KPIs 80, reviews 20").version
        assert version is not None
        app.start_trial(
            DEMO_HR,
            trial_id=DEMO_TRIAL_ID,
            name="Sales: KPIs weigh more",
            rule_set_version=version,
            scope_departments=[sales],
            scope_employees=[],
            members=members,
            period=period,
            responsible=["Head of HR", "Head of Sales"],
            show_participants=True,
            today=date.today(),
        )

    await services.call(record)
    print(f"Started a demo trial on Sales for {period}.", file=sys.stderr)


async def print_tokens(services: Services) -> None:
    async with services.read_pool.acquire() as conn:
        top = await conn.fetchrow(
            "SELECT id, code, name FROM employees WHERE manager_id IS NULL ORDER BY code LIMIT 1"
        )
        lead = await conn.fetchrow(
            "SELECT m.id, m.code, m.name FROM employees m WHERE m.manager_id IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM employees e WHERE e.manager_id = m.id "
            "AND NOT EXISTS (SELECT 1 FROM employees x WHERE x.manager_id = e.id)) "
            "ORDER BY m.code LIMIT 1"
        )
        member = (
            await conn.fetchrow(
                "SELECT id, code, name FROM employees WHERE manager_id = $1 ORDER BY code LIMIT 1",
                lead["id"],
            )
            if lead
            else None
        )
        by_function = {
            prefix: await conn.fetchrow(
                "SELECT e.id, e.code, e.name FROM employees e JOIN departments d "
                "ON d.id = e.department_id WHERE d.name LIKE $1 ORDER BY e.code LIMIT 1",
                f"{prefix}%",
            )
            for prefix in ("Human resources", "Finance")
        }
    hr = by_function["Human resources"] or top
    auditor = by_function["Finance"] or top
    people = [(Role.ADMIN, top), (Role.HR, hr), (Role.AUDITOR, auditor)]
    people += [(Role.MANAGER, lead), (Role.EMPLOYEE, member)]
    lines = [
        "",
        "Demo tokens (paste one into the dashboard's sign-in, or into GraphiQL's Headers pane "
        'as {"Authorization": "Bearer <token>"}):',
    ]
    for role, person in people:
        if person is None:
            continue
        token = auth.mint(
            services.settings.jwt_secret,
            person["id"],
            role,
            ttl_hours=services.settings.token_ttl_hours,
        )
        lines.append(f"  {role.value:<8} as {person['name']} ({person['code']}):\n    {token}")
    settings = services.settings
    base = f"http://{settings.host}:{settings.port}"
    lines.append(f"\nDashboard: {base}/\nGraphiQL:  {base}/graphql\n")
    print("\n".join(lines), file=sys.stderr)
