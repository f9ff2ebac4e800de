"""GraphQL types shared by every feature that states a reward or names a rater source: rule sets
(reward tables, eligibility rules), granted rewards and 360 reviews."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.reviews import RaterSource
from domain.rewards import Money, RewardKind, RewardSpec

RewardKindType = strawberry.enum(
    RewardKind,
    name="RewardKind",
    description="Monetary (bonus, commission) or not (recognition, extra leave, training).",
)
RaterSourceType = strawberry.enum(
    RaterSource,
    name="RaterSource",
    description="Where a 360 rating comes from; peers and customers are anonymous.",
)


@strawberry.type(name="Money")
class MoneyType:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    @classmethod
    def of(cls, money: Money) -> MoneyType:
        return cls(amount=money.amount, currency=money.currency)


@strawberry.input
class MoneyInput:
    amount: Decimal
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")

    def to_domain(self) -> Money:
        return Money(self.amount, self.currency)


@strawberry.type(
    name="RewardSpec",
    description="What a reward gives. A bonus or commission has an amount or a percentOfSalary; "
    "recognition and training have a title; extra leave has days.",
)
class RewardSpecType:
    kind: RewardKindType  # type: ignore[valid-type]
    amount: MoneyType | None
    percent_of_salary: Decimal | None
    days: Decimal | None
    title: str | None
    summary: str = strawberry.field(description="The reward in a few words, for people.")

    @classmethod
    def of(cls, spec: RewardSpec) -> RewardSpecType:
        return cls(
            kind=spec.kind,
            amount=MoneyType.of(spec.amount) if spec.amount else None,
            percent_of_salary=spec.percent_of_salary,
            days=spec.days,
            title=spec.title,
            summary=spec.describe(),
        )


@strawberry.input(
    description="What a reward gives. A bonus or commission needs an amount or a "
    "percentOfSalary (not both); recognition and training need a title; extra leave needs days "
    "(in half days)."
)
class RewardSpecInput:
    kind: RewardKindType  # type: ignore[valid-type]
    amount: MoneyInput | None = None
    percent_of_salary: Decimal | None = None
    days: Decimal | None = None
    title: str | None = None

    def to_domain(self) -> RewardSpec:
        """Unchecked: the command that takes it validates it and names the field to blame."""
        return RewardSpec(
            kind=RewardKind(self.kind),
            amount=self.amount.to_domain() if self.amount else None,
            percent_of_salary=self.percent_of_salary,
            days=self.days,
            title=self.title,
        )
