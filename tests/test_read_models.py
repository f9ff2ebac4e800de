"""The projector builds read models from the log: incrementally and rebuilt, with equal results."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from service.bootstrap import Services
from tests.helpers import HR, set_goal, small_org


async def dump(services: Services) -> dict[str, list[tuple[object, ...]]]:
    """Every read-model row, comparable across rebuilds: sealed text opened (each seal has a
    fresh nonce, so equal text seals to different bytes) and rows in a total order."""

    def comparable(value: object) -> object:
        return services.secrets.open(value) if isinstance(value, bytes) else value

    tables = services.projector.tables
    async with services.read_pool.acquire() as conn:
        dumped: dict[str, list[tuple[object, ...]]] = {}
        for table in tables:
            rows = [
                tuple(comparable(v) for v in r) for r in await conn.fetch(f"SELECT * FROM {table}")
            ]
            dumped[table] = sorted(rows, key=repr)
        return dumped


async def test_scorecard_reflects_progress_under_the_rules(services: Services) -> None:
    app = services.app
    org = await services.call(small_org, app)
    growth = await services.call(set_goal, app, org.alice, weight=Decimal(60))
    satisfaction = await services.call(
        set_goal,
        app,
        org.alice,
        title="Customer satisfaction",
        metric="csat",
        baseline=Decimal(80),
        target=Decimal(90),
        weight=Decimal(40),
    )
    await services.call(app.record_progress, HR, growth, Decimal(10), date(2026, 3, 1), "crm")
    await services.call(
        app.record_progress, HR, satisfaction, Decimal(85), date(2026, 3, 1), "survey"
    )
    conn = await services.connect()
    try:
        result = await services.runner.catch_up(conn)
    finally:
        await conn.close()
    assert result.events > 0
    async with services.read_pool.acquire() as read:
        row = await read.fetchrow(
            "SELECT * FROM scorecards WHERE owner_id = $1 AND period = '2026-Q1'", org.alice
        )
    assert row is not None
    # growth: 10/8 = 125% capped at 120% x 0.6 = 72; satisfaction: 5/10 = 50% x 0.4 = 20
    assert row["score"] == Decimal("92.00")
    assert row["tier"] == "A"
    assert row["rule_set_version"] == 0


async def test_rebuilt_read_models_equal_incremental_ones(services: Services) -> None:
    app = services.app
    org = await services.call(small_org, app)
    conn = await services.connect()
    try:
        goal = await services.call(set_goal, app, org.bob)
        await services.runner.catch_up(conn)
        await services.call(app.record_progress, HR, goal, Decimal(3), date(2026, 2, 1), "crm")
        await services.runner.catch_up(conn)
        await services.call(app.revise_target, HR.because("market collapsed"), goal, Decimal(6))
        await services.call(app.record_progress, HR, goal, Decimal(4), date(2026, 3, 1), "crm")
        await services.runner.catch_up(conn)
        incremental = await dump(services)
        await services.projector.reset(conn)
        await services.runner.catch_up(conn)
        rebuilt = await dump(services)
    finally:
        await conn.close()
    assert rebuilt == incremental
    assert incremental["goals"][0][11] == Decimal(6)  # current target
