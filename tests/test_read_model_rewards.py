"""The rewards read model: one row per reward that explains it, revocations flagged on the row,
the in-memory accessor scorecards use, and a rebuild that gives the same rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

from domain.provenance import Role
from domain.rewards import Money, RewardKind, RewardOrigin, RewardSpec
from service.bootstrap import Services
from tests.helpers import HR, as_role, catch_up, rebuild, small_org

SALARY = Money(Decimal("40000"), "EUR")


async def rows(services: Services) -> list[tuple[object, ...]]:
    async with services.read_pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch("SELECT * FROM rewards ORDER BY id")]


async def grant(
    services: Services,
    employee: UUID,
    spec: RewardSpec,
    *,
    by: UUID | None = None,
    period: str | None = "2026-Q1",
    reference_salary: Money | None = None,
) -> UUID:
    reward_id = uuid4()
    provenance = as_role(Role.MANAGER, by, "great quarter") if by else HR.because("retention")
    await services.call(
        services.app.grant_reward,
        provenance,
        reward_id=reward_id,
        employee_id=employee,
        spec=spec,
        reference_salary=reference_salary,
        period=period,
        today=date(2026, 4, 2),
    )
    return reward_id


async def test_a_granted_reward_is_one_row_that_explains_it(services: Services) -> None:
    org = await services.call(small_org, services.app)
    share = RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal("2.5"), title="Q1 bonus")
    reward_id = await grant(services, org.alice, share, by=org.boss, reference_salary=SALARY)
    await catch_up(services)
    async with services.read_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM rewards WHERE id = $1", reward_id)
        grant_position = await conn.fetchval("SELECT max(position) FROM projection_tracking")
    assert row is not None
    assert row["employee_id"] == org.alice
    assert row["department_id"] == org.sales
    assert row["kind"] == "bonus"
    assert row["percent_of_salary"] == Decimal("2.5")
    assert (row["reference_salary"], row["reference_currency"]) == (Decimal(40000), "EUR")
    assert (row["granted_amount"], row["granted_currency"]) == (Decimal("1000.00"), "EUR")
    assert row["amount"] is None
    assert row["title"] == "Q1 bonus"
    assert row["origin"] == "manual"
    assert row["cycle_id"] is None
    assert row["period"] == "2026-Q1"
    assert row["granted_on"] == date(2026, 4, 2)
    assert row["granted_position"] == grant_position
    assert row["granted_by"] == str(org.boss)
    assert row["grant_reason"] == "great quarter"
    assert row["revoked"] is False


async def test_rewards_revoke_flags_the_row_and_keeps_what_was_granted(
    services: Services,
) -> None:
    org = await services.call(small_org, services.app)
    fixed = RewardSpec(RewardKind.COMMISSION, amount=Money(Decimal("300"), "USD"))
    reward_id = await grant(services, org.bob, fixed)
    await catch_up(services)
    granted_position = services.projector.rewards.rewards[reward_id].granted_position
    await services.call(
        services.app.revoke_reward, HR.because("paid twice"), reward_id, date(2026, 4, 20)
    )
    await catch_up(services)
    async with services.read_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM rewards WHERE id = $1", reward_id)
    assert row is not None
    assert row["revoked"] is True
    assert row["revoked_on"] == date(2026, 4, 20)
    assert row["revoke_reason"] == "paid twice"
    assert row["revoked_by"] == HR.actor_id
    assert row["grant_reason"] == "retention"
    assert (row["granted_amount"], row["granted_currency"]) == (Decimal(300), "USD")
    assert row["granted_position"] == granted_position
    assert row["position"] > granted_position


async def test_scorecards_read_an_employees_rewards_by_period_from_memory(
    services: Services,
) -> None:
    org = await services.call(small_org, services.app)
    star = RewardSpec(RewardKind.RECOGNITION, title="Star of the month")
    leave = RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal("1.5"))
    first = await grant(services, org.alice, star, period="2026-03")
    second = await grant(services, org.alice, leave, period="2026-Q1")
    unperiodic = await grant(services, org.alice, star, period=None)
    await grant(services, org.bob, star, period="2026-Q1")
    await catch_up(services)
    model = services.projector.rewards
    assert [r.id for r in model.for_employee(org.alice, "2026-Q1")] == [second]
    assert [r.id for r in model.for_employee(org.alice)] == [first, second, unperiodic]
    assert model.for_employee(org.alice, "2026-Q1")[0].days == Decimal("1.5")
    assert model.for_employee(org.alice, "2026-Q1")[0].origin is RewardOrigin.MANUAL
    assert model.for_employee(uuid4()) == []
    # Reloaded from the database, the accessor answers the same.
    conn = await services.connect()
    try:
        await services.projector.load(conn)
    finally:
        await conn.close()
    assert [r.id for r in model.for_employee(org.alice)] == [first, second, unperiodic]


async def test_rebuilt_rewards_equal_incremental_ones(services: Services) -> None:
    org = await services.call(small_org, services.app)
    bonus = RewardSpec(RewardKind.BONUS, amount=Money(Decimal("500"), "EUR"))
    kept = await grant(services, org.alice, bonus)
    await catch_up(services)
    revoked = await grant(services, org.bob, bonus, by=org.boss)
    await services.call(services.app.revoke_reward, HR.because("error"), revoked, date(2026, 5, 1))
    await catch_up(services)
    incremental = await rows(services)
    await rebuild(services)
    assert await rows(services) == incremental
    assert {r[0] for r in incremental} == {kept, revoked}
