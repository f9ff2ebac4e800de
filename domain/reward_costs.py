"""What a set of rewards would cost: money by kind and currency, the rest counted.

A what-if compares the rewards two rule sets propose; HR needs the bill under each, not only the
list. Fixed amounts add up by currency. A percentage of salary cannot be priced here (salaries
are not recorded; a grant states the reference salary it used), so those are counted by kind and
percentage instead of being guessed at. Extra leave adds up its days; recognition and training
are counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from domain.rewards import RewardKind, RewardSpec


@dataclass(frozen=True)
class MoneyTotal:
    kind: RewardKind
    currency: str
    amount: Decimal
    count: int


@dataclass(frozen=True)
class SalaryShareTotal:
    """Rewards of ``percent`` of each person's salary: ``count`` of them, not priced."""

    kind: RewardKind
    percent: Decimal
    count: int


@dataclass(frozen=True)
class OtherTotal:
    kind: RewardKind
    count: int
    days: Decimal | None  # extra leave: the days added up


@dataclass(frozen=True)
class RewardCosts:
    money: list[MoneyTotal] = field(default_factory=list)
    salary_shares: list[SalaryShareTotal] = field(default_factory=list)
    other: list[OtherTotal] = field(default_factory=list)


def reward_costs(specs: Iterable[RewardSpec]) -> RewardCosts:
    """The rewards added up, each list in a stable order (kind, then currency or percentage)."""
    money: dict[tuple[RewardKind, str], tuple[Decimal, int]] = {}
    shares: dict[tuple[RewardKind, Decimal], int] = {}
    other: dict[RewardKind, tuple[int, Decimal | None]] = {}
    for spec in specs:
        if spec.amount is not None:
            key = (spec.kind, spec.amount.currency)
            amount, count = money.get(key, (Decimal(0), 0))
            money[key] = (amount + spec.amount.amount, count + 1)
        elif spec.percent_of_salary is not None:
            share = (spec.kind, spec.percent_of_salary)
            shares[share] = shares.get(share, 0) + 1
        else:
            count, days = other.get(spec.kind, (0, None))
            if spec.days is not None:
                days = (days or Decimal(0)) + spec.days
            other[spec.kind] = (count + 1, days)
    return RewardCosts(
        money=[
            MoneyTotal(kind, currency, amount, count)
            for (kind, currency), (amount, count) in sorted(
                money.items(), key=lambda item: (item[0][0].value, item[0][1])
            )
        ],
        salary_shares=[
            SalaryShareTotal(kind, percent, count)
            for (kind, percent), count in sorted(
                shares.items(), key=lambda item: (item[0][0].value, item[0][1])
            )
        ],
        other=[
            OtherTotal(kind, count, days)
            for kind, (count, days) in sorted(other.items(), key=lambda item: item[0].value)
        ],
    )
