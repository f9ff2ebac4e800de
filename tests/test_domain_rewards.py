"""Rewards in the domain: every spec check names its field, percentages of salary are computed
exactly and recorded, and revoking is a second event that can happen once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from domain.errors import (
    DomainError,
    InvalidInput,
    ReasonRequired,
    ReferenceSalaryRequired,
    RewardAlreadyRevoked,
)
from domain.provenance import Provenance, Role
from domain.rewards import (
    Money,
    Reward,
    RewardBasis,
    RewardKind,
    RewardOrigin,
    RewardSpec,
    percent_of,
)

MANAGER = Provenance("manager-1", Role.MANAGER, "corr-1", "closed the Lyon deal")
EMPLOYEE = UUID("00000000-0000-0000-0000-0000000000a1")
EUR = Money(Decimal("500"), "EUR")
SALARY = Money(Decimal("52000"), "EUR")
GRANTED_ON = date(2026, 4, 2)


def grant(
    spec: RewardSpec,
    *,
    reference_salary: Money | None = None,
    basis: RewardBasis | None = None,
    period: str | None = "2026-Q1",
    provenance: Provenance = MANAGER,
) -> Reward:
    return Reward.grant(
        id=uuid4(),
        employee_id=EMPLOYEE,
        spec=spec,
        basis=basis,
        reference_salary=reference_salary,
        period=period,
        granted_on=GRANTED_ON,
        provenance=provenance,
    )


def rejected(spec: RewardSpec) -> DomainError:
    with pytest.raises(DomainError) as caught:
        spec.checked()
    return caught.value


# -- what a spec may say, kind by kind ---------------------------------------------------------


@pytest.mark.parametrize("kind", [RewardKind.BONUS, RewardKind.COMMISSION])
def test_a_monetary_reward_takes_an_amount_or_a_percentage(kind: RewardKind) -> None:
    fixed = RewardSpec(kind, amount=Money(Decimal("500.00"), " eur "), title=" Year end ")
    assert fixed.checked() == RewardSpec(
        kind, amount=Money(Decimal("500.00"), "EUR"), title="Year end"
    )
    share = RewardSpec(kind, percent_of_salary=Decimal("2.5"))
    assert share.checked() == share


@pytest.mark.parametrize("kind", [RewardKind.BONUS, RewardKind.COMMISSION])
def test_a_monetary_reward_with_both_or_neither_amount_and_percentage_is_rejected(
    kind: RewardKind,
) -> None:
    neither = rejected(RewardSpec(kind))
    both = rejected(RewardSpec(kind, amount=EUR, percent_of_salary=Decimal(3)))
    for error in (neither, both):
        assert type(error) is InvalidInput
        assert error.field == "reward.amount"


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        (Money(Decimal(0), "EUR"), "reward.amount.amount"),
        (Money(Decimal(-5), "EUR"), "reward.amount.amount"),
        (Money(Decimal("1e12"), "EUR"), "reward.amount.amount"),
        (Money(Decimal("NaN"), "EUR"), "reward.amount.amount"),
        (Money(Decimal(5), "EURO"), "reward.amount.currency"),
        (Money(Decimal(5), "E1R"), "reward.amount.currency"),
    ],
)
def test_a_bonus_amount_must_be_positive_money_in_an_iso_currency(
    amount: Money, field: str
) -> None:
    error = rejected(RewardSpec(RewardKind.BONUS, amount=amount))
    assert type(error) is InvalidInput
    assert error.field == field


@pytest.mark.parametrize("percent", [Decimal(0), Decimal(-1), Decimal("1000.01"), Decimal("Inf")])
def test_a_percentage_of_salary_must_lie_above_0_and_at_most_1000(percent: Decimal) -> None:
    error = rejected(RewardSpec(RewardKind.COMMISSION, percent_of_salary=percent))
    assert type(error) is InvalidInput
    assert error.field == "reward.percentOfSalary"


def test_a_monetary_reward_has_no_days() -> None:
    error = rejected(RewardSpec(RewardKind.BONUS, amount=EUR, days=Decimal(1)))
    assert error.field == "reward.days"


def test_recognition_needs_a_title_and_nothing_else() -> None:
    star = RewardSpec(RewardKind.RECOGNITION, title="  Star of the month ")
    assert star.checked().title == "Star of the month"
    assert rejected(RewardSpec(RewardKind.RECOGNITION)).field == "reward.title"
    assert rejected(RewardSpec(RewardKind.RECOGNITION, title="   ")).field == "reward.title"
    assert rejected(RewardSpec(RewardKind.RECOGNITION, title="x" * 121)).field == "reward.title"
    with_money = RewardSpec(RewardKind.RECOGNITION, title="Star", amount=EUR)
    assert rejected(with_money).field == "reward.amount"
    with_days = RewardSpec(RewardKind.RECOGNITION, title="Star", days=Decimal(1))
    assert rejected(with_days).field == "reward.days"


def test_training_needs_the_course_as_title_and_nothing_else() -> None:
    course = RewardSpec(RewardKind.TRAINING, title="Negotiation masterclass")
    assert course.checked() == course
    missing = rejected(RewardSpec(RewardKind.TRAINING))
    assert missing.field == "reward.title"
    assert "course" in missing.message
    paid = RewardSpec(RewardKind.TRAINING, title="MBA", percent_of_salary=Decimal(5))
    assert rejected(paid).field == "reward.percentOfSalary"


def test_extra_leave_is_granted_in_half_days_up_to_60() -> None:
    leave = RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal("1.5"), title="Thank you")
    assert leave.checked() == leave
    for days in (Decimal(0), Decimal("60.5"), Decimal("1.25"), Decimal("NaN")):
        assert rejected(RewardSpec(RewardKind.EXTRA_LEAVE, days=days)).field == "reward.days"
    assert rejected(RewardSpec(RewardKind.EXTRA_LEAVE)).field == "reward.days"
    paid = RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(1), amount=EUR)
    assert rejected(paid).field == "reward.amount"


def test_a_spec_describes_itself_for_audit_summaries() -> None:
    assert RewardSpec(RewardKind.BONUS, amount=EUR).describe() == "bonus 500 EUR"
    share = RewardSpec(RewardKind.COMMISSION, percent_of_salary=Decimal("2.5"))
    assert share.describe() == "commission 2.5% of salary"
    leave = RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(2))
    assert leave.describe() == "extra leave 2 days"
    assert RewardSpec(RewardKind.RECOGNITION, title="Star").describe() == "recognition “Star”"


# -- granting ----------------------------------------------------------------------------------


def test_a_percentage_reward_records_the_salary_and_the_amount_computed_from_it() -> None:
    reward = grant(
        RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal("2.5")), reference_salary=SALARY
    )
    assert reward.reference_salary == SALARY
    assert reward.granted_amount == Money(Decimal("1300.00"), "EUR")
    granted = reward.collect_events()[0]
    assert granted.granted_amount == Money(Decimal("1300.00"), "EUR")  # type: ignore[attr-defined]


def test_a_percentage_is_rounded_half_even_to_the_cent() -> None:
    # 0.125 and 0.135 sit exactly half-way: half-even goes to the even cent.
    assert percent_of(Money(Decimal("12.5"), "EUR"), Decimal(1)).amount == Decimal("0.12")
    assert percent_of(Money(Decimal("13.5"), "EUR"), Decimal(1)).amount == Decimal("0.14")
    # Many digits: exact arithmetic before the one rounding.
    huge = Money(Decimal("999999999999.99"), "JPY")
    assert percent_of(huge, Decimal("33.333333333333333333333333333")).amount == Decimal(
        "333333333333.33"
    )


def test_a_percentage_reward_without_a_reference_salary_is_rejected() -> None:
    with pytest.raises(ReferenceSalaryRequired) as caught:
        grant(RewardSpec(RewardKind.COMMISSION, percent_of_salary=Decimal(3)))
    assert caught.value.field == "referenceSalary"


def test_a_reference_salary_rounding_to_nothing_is_rejected() -> None:
    with pytest.raises(InvalidInput) as caught:
        grant(
            RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal("0.1")),
            reference_salary=Money(Decimal("1"), "EUR"),
        )
    assert caught.value.field == "referenceSalary"


@pytest.mark.parametrize(
    "spec",
    [
        RewardSpec(RewardKind.BONUS, amount=EUR),
        RewardSpec(RewardKind.RECOGNITION, title="Star of the month"),
        RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(2)),
    ],
)
def test_only_a_percentage_reward_takes_a_reference_salary(spec: RewardSpec) -> None:
    with pytest.raises(InvalidInput) as caught:
        grant(spec, reference_salary=SALARY)
    assert caught.value.field == "referenceSalary"


def test_a_reference_salary_is_checked_as_money() -> None:
    with pytest.raises(InvalidInput) as caught:
        grant(
            RewardSpec(RewardKind.BONUS, percent_of_salary=Decimal(2)),
            reference_salary=Money(Decimal(50000), "euros"),
        )
    assert caught.value.field == "referenceSalary.currency"


def test_a_fixed_amount_is_the_granted_amount_and_non_monetary_rewards_have_none() -> None:
    assert grant(RewardSpec(RewardKind.BONUS, amount=EUR)).granted_amount == EUR
    star = grant(RewardSpec(RewardKind.RECOGNITION, title="Star of the month"))
    assert star.granted_amount is None
    assert star.reference_salary is None


def test_granting_needs_a_reason() -> None:
    for reason in (None, "  "):
        with pytest.raises(ReasonRequired) as caught:
            grant(RewardSpec(RewardKind.BONUS, amount=EUR), provenance=MANAGER.because(reason))
        assert caught.value.field == "reason"


def test_a_manual_grant_has_no_basis_and_a_rule_grant_records_its_basis() -> None:
    manual = grant(RewardSpec(RewardKind.BONUS, amount=EUR))
    assert manual.origin is RewardOrigin.MANUAL
    assert manual.basis is None
    basis = RewardBasis(uuid4(), 3, "tier:A:0", "A", Decimal("92.50"))
    proposed = grant(RewardSpec(RewardKind.BONUS, amount=EUR), basis=basis)
    assert proposed.origin is RewardOrigin.RULES
    assert proposed.basis == basis
    assert basis.describe() == "rule tier:A:0 of rule-set version 3, tier A, score 92.50"


def test_the_period_is_normalised_and_checked() -> None:
    assert grant(RewardSpec(RewardKind.BONUS, amount=EUR), period=" 2026-Q2 ").period == "2026-Q2"
    assert grant(RewardSpec(RewardKind.BONUS, amount=EUR), period=None).period is None
    with pytest.raises(InvalidInput) as caught:
        grant(RewardSpec(RewardKind.BONUS, amount=EUR), period="Q2 2026")
    assert caught.value.field == "period"


# -- revoking ----------------------------------------------------------------------------------


def test_rewards_revoke_once_with_a_reason_and_keep_the_grant() -> None:
    reward = grant(RewardSpec(RewardKind.BONUS, amount=EUR))
    reward.revoke(date(2026, 4, 10), MANAGER.because("granted to the wrong person"))
    assert reward.revoked
    assert reward.revoked_on == date(2026, 4, 10)
    assert reward.granted_amount == EUR  # the grant stays what it was
    names = [type(e).__name__ for e in reward.collect_events()]
    assert names == ["Granted", "Revoked"]


def test_rewards_revoke_twice_is_rejected_by_name() -> None:
    reward = grant(RewardSpec(RewardKind.BONUS, amount=EUR))
    reward.revoke(date(2026, 4, 10), MANAGER.because("duplicate"))
    version = reward.version
    with pytest.raises(RewardAlreadyRevoked) as caught:
        reward.revoke(date(2026, 4, 11), MANAGER.because("again"))
    assert "2026-04-10" in caught.value.message
    assert reward.version == version


def test_rewards_revoke_needs_a_reason() -> None:
    reward = grant(RewardSpec(RewardKind.RECOGNITION, title="Star"))
    with pytest.raises(ReasonRequired):
        reward.revoke(date(2026, 4, 10), MANAGER.because(None))
    assert not reward.revoked


def test_rewards_revoke_cannot_predate_the_grant() -> None:
    reward = grant(RewardSpec(RewardKind.RECOGNITION, title="Star"))
    with pytest.raises(InvalidInput):
        reward.revoke(date(2026, 4, 1), MANAGER.because("oops"))
