"""The demo organisation loaded on first start, and tokens to explore it with."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from domain.provenance import Role
from service import auth
from service.bootstrap import Services
from service.seed import seed_organisation

log = logging.getLogger("perfledger.demo")

DEMO_SEED = 7


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
    last = await asyncio.to_thread(recorder.max_notification_id) or 0
    await services.watcher.wait_for(last, 120)
    await print_tokens(services)


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
