"""Rewards added up: money by kind and currency, salary shares counted, leave days summed."""

from __future__ import annotations

from decimal import Decimal

from domain.reward_costs import (
    MoneyTotal,
    OtherTotal,
    RewardCosts,
    SalaryShareTotal,
    reward_costs,
)
from domain.rewards import Money, RewardKind, RewardSpec


def money(amount: str, currency: str = "EUR", kind: RewardKind = RewardKind.BONUS) -> RewardSpec:
    return RewardSpec(kind, amount=Money(Decimal(amount), currency))


def test_rewards_add_up_by_kind_and_currency_and_the_rest_is_counted() -> None:
    costs = reward_costs(
        [
            money("800"),
            money("250.50", kind=RewardKind.COMMISSION),
            money("800"),
            money("1000", "USD"),
            RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(10)),
            RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(5)),
            RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(10)),
            RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(2)),
            RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal("0.5")),
            RewardSpec(RewardKind.RECOGNITION, title="Star of the month"),
            RewardSpec(RewardKind.TRAINING, title="Negotiation course"),
            RewardSpec(RewardKind.RECOGNITION, title="Top performer"),
        ]
    )
    assert costs == RewardCosts(
        money=[
            MoneyTotal(RewardKind.BONUS, "EUR", Decimal(1600), 2),
            MoneyTotal(RewardKind.BONUS, "USD", Decimal(1000), 1),
            MoneyTotal(RewardKind.COMMISSION, "EUR", Decimal("250.50"), 1),
        ],
        salary_shares=[
            SalaryShareTotal(RewardKind.BONUS, Decimal(5), 1),
            SalaryShareTotal(RewardKind.BONUS, Decimal(10), 2),
        ],
        other=[
            OtherTotal(RewardKind.EXTRA_LEAVE, 2, Decimal("2.5")),
            OtherTotal(RewardKind.RECOGNITION, 2, None),
            OtherTotal(RewardKind.TRAINING, 1, None),
        ],
    )


def test_no_rewards_cost_nothing() -> None:
    assert reward_costs([]) == RewardCosts()
