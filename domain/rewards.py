"""Rewards differentiated by performance: what a reward is (its value objects).

Monetary rewards are a bonus or a commission, either a fixed amount in a currency or a percentage
of a reference salary (the ledger holds no salaries: whoever grants a percentage reward states the
reference salary, and the granted amount is computed and recorded with it). Non-monetary rewards
are recognition (a title such as "star of the month"), extra leave days, or a training or
development opportunity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import Enum
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain import text
from domain.errors import InvalidInput, ReferenceSalaryRequired, RewardAlreadyRevoked
from domain.periods import Period
from domain.provenance import Provenance

MAX_AMOUNT = Decimal("1e12")
MAX_PERCENT = Decimal(1000)
MAX_LEAVE_DAYS = Decimal(60)
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class RewardKind(Enum):
    BONUS = "bonus"
    COMMISSION = "commission"
    RECOGNITION = "recognition"
    EXTRA_LEAVE = "extra_leave"
    TRAINING = "training"

    @property
    def monetary(self) -> bool:
        return self in (RewardKind.BONUS, RewardKind.COMMISSION)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str  # ISO 4217 code, e.g. "EUR"

    def checked(self, field: str) -> Money:
        if not self.amount.is_finite() or not Decimal(0) < self.amount < MAX_AMOUNT:
            raise InvalidInput(
                f"{field}.amount is {self.amount}; it must be above 0 and below 10^12",
                field=f"{field}.amount",
            )
        currency = self.currency.strip().upper()
        if not _CURRENCY.match(currency):
            raise InvalidInput(
                f"{field}.currency {self.currency!r} is not a three-letter ISO 4217 code",
                field=f"{field}.currency",
            )
        return Money(self.amount, currency)


@dataclass(frozen=True)
class RewardSpec:
    """What is given. Exactly the fields its kind needs are set:

    - bonus, commission: ``amount`` or ``percent_of_salary`` (one of the two);
    - recognition: ``title`` ("star of the month");
    - extra leave: ``days``;
    - training: ``title`` (the course or opportunity).
    """

    kind: RewardKind
    amount: Money | None = None
    percent_of_salary: Decimal | None = None
    days: Decimal | None = None
    title: str | None = None

    def checked(self, field: str = "reward") -> RewardSpec:
        kind = self.kind
        if kind.monetary:
            if (self.amount is None) == (self.percent_of_salary is None):
                raise InvalidInput(
                    f"a {kind.value} has either an amount or a percentOfSalary, not both or "
                    "neither",
                    field=f"{field}.amount",
                )
            self._only(field, amount=True, percent_of_salary=True, title=True)
            percent = self.percent_of_salary
            if percent is not None and (
                not percent.is_finite() or not Decimal(0) < percent <= MAX_PERCENT
            ):
                raise InvalidInput(
                    f"{field}.percentOfSalary is {percent}; it must be above 0 and at most "
                    f"{MAX_PERCENT}",
                    field=f"{field}.percentOfSalary",
                )
            return RewardSpec(
                kind,
                amount=self.amount.checked(f"{field}.amount") if self.amount else None,
                percent_of_salary=percent,
                title=_optional_title(self.title, field),
            )
        if kind is RewardKind.EXTRA_LEAVE:
            self._only(field, days=True, title=True)
            days = self.days
            if days is None or not days.is_finite() or not Decimal(0) < days <= MAX_LEAVE_DAYS:
                raise InvalidInput(
                    f"extra leave needs days above 0 and at most {MAX_LEAVE_DAYS}",
                    field=f"{field}.days",
                )
            if days * 2 != (days * 2).to_integral_value():
                raise InvalidInput("extra leave is granted in half days", field=f"{field}.days")
            return RewardSpec(kind, days=days, title=_optional_title(self.title, field))
        self._only(field, title=True)
        if self.title is None:
            what = "a title" if kind is RewardKind.RECOGNITION else "the course or opportunity"
            raise InvalidInput(f"{kind.value} needs {what} as title", field=f"{field}.title")
        return RewardSpec(
            kind, title=text.required_text(self.title, field=f"{field}.title", max_length=120)
        )

    def _only(
        self,
        field: str,
        *,
        amount: bool = False,
        percent_of_salary: bool = False,
        days: bool = False,
        title: bool = False,
    ) -> None:
        given = {
            "amount": (self.amount is not None, amount),
            "percentOfSalary": (self.percent_of_salary is not None, percent_of_salary),
            "days": (self.days is not None, days),
            "title": (self.title is not None, title),
        }
        for name, (present, allowed) in given.items():
            if present and not allowed:
                raise InvalidInput(
                    f"a {self.kind.value} reward has no {name}", field=f"{field}.{name}"
                )

    def describe(self) -> str:
        """A short human-readable statement, for audit summaries."""
        if self.amount is not None:
            value = f"{self.amount.amount} {self.amount.currency}"
        elif self.percent_of_salary is not None:
            value = f"{self.percent_of_salary}% of salary"
        elif self.days is not None:
            value = f"{self.days} days"
        else:
            value = ""
        parts = [self.kind.value.replace("_", " "), value, f"“{self.title}”" if self.title else ""]
        return " ".join(part for part in parts if part)


def _optional_title(title: str | None, field: str) -> str | None:
    if title is None:
        return None
    return text.required_text(title, field=f"{field}.title", max_length=120)


_PROPOSAL_NAMESPACE = UUID("c6f1e0a4-2d7b-4f3e-8a61-5e0b9d2c7f14")


def proposed_reward_id(cycle_id: UUID, employee_id: UUID, rule_key: str) -> UUID:
    """The id a rule's proposal is granted under: one proposal can be approved once, ever."""
    return uuid5(_PROPOSAL_NAMESPACE, f"{cycle_id}/{employee_id}/{rule_key}")


class RewardOrigin(Enum):
    MANUAL = "manual"  # granted by a manager or hr on their own judgement
    RULES = "rules"  # proposed by the rule set in force for a review cycle, then approved
    TRIAL = "trial"  # decided under a trial's pilot rules: provisional until a promotion


@dataclass(frozen=True)
class RewardBasis:
    """Why the rules proposed a reward: which cycle, under which rule-set version and rule, and
    the tier and score that met it. With the cycle's events this reproduces the proposal."""

    cycle_id: UUID
    rule_set_version: int  # 0: the built-in defaults
    rule_key: str  # e.g. "tier:A:0", "eligibility:sales_streak"
    tier: str | None = None
    score: Decimal | None = None

    def describe(self) -> str:
        parts = [f"rule {self.rule_key} of rule-set version {self.rule_set_version}"]
        if self.tier is not None:
            parts.append(f"tier {self.tier}")
        if self.score is not None:
            parts.append(f"score {self.score}")
        return ", ".join(parts)


def percent_of(salary: Money, percent: Decimal) -> Money:
    """``percent`` % of ``salary``, exact, then rounded half-even to the cent."""
    with localcontext() as context:
        # Wide enough that neither the product nor the rounding loses a digit before quantize.
        context.prec = 60
        amount = (salary.amount * percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return Money(amount, salary.currency)


def granted_amount(spec: RewardSpec, reference_salary: Money | None) -> Money | None:
    """The money a checked spec gives: its fixed amount, or its percentage of the reference
    salary (which it must then have); None for non-monetary rewards, which take no salary."""
    if spec.percent_of_salary is None:
        if reference_salary is not None:
            what = "a fixed amount" if spec.kind.monetary else f"a {spec.kind.value} reward"
            raise InvalidInput(
                f"{what} takes no reference salary; only a percentage of salary does",
                field="referenceSalary",
            )
        return spec.amount
    if reference_salary is None:
        raise ReferenceSalaryRequired(
            f"a {spec.kind.value} of {spec.percent_of_salary}% of salary needs the reference "
            "salary it is a percentage of",
            field="referenceSalary",
        )
    amount = percent_of(reference_salary, spec.percent_of_salary)
    if amount.amount <= 0:
        raise InvalidInput(
            f"{spec.percent_of_salary}% of {reference_salary.amount} {reference_salary.currency} "
            "rounds to nothing",
            field="referenceSalary",
        )
    return amount


class Reward(Aggregate):
    """One reward given to one employee. It is never deleted: revoking it is a further event."""

    @event("Granted")
    def __init__(
        self,
        id: UUID,
        employee_id: UUID,
        spec: RewardSpec,
        origin: RewardOrigin,
        basis: RewardBasis | None,
        reference_salary: Money | None,
        granted_amount: Money | None,
        period: str | None,
        granted_on: date,
        provenance: Provenance,
        trial_id: UUID | None = None,  # rewards granted before trials existed have none
    ) -> None:
        self.employee_id = employee_id
        self.spec = spec
        self.origin = origin
        self.basis = basis
        self.reference_salary = reference_salary
        self.granted_amount = granted_amount
        self.period = period
        self.granted_on = granted_on
        self.revoked_on: date | None = None
        self.trial_id = trial_id
        self.confirmed_on: date | None = None  # a provisional reward, when its trial was promoted

    @classmethod
    def grant(
        cls,
        *,
        id: UUID,
        employee_id: UUID,
        spec: RewardSpec,
        basis: RewardBasis | None,
        reference_salary: Money | None,
        period: str | None,
        granted_on: date,
        provenance: Provenance,
        trial_id: UUID | None = None,
    ) -> Reward:
        """Grant on someone's judgement (no basis), as the approval of a rule's proposal, or,
        with ``trial_id``, provisionally under a trial's pilot rules: such a reward counts in
        production only once the trial's promotion confirms it."""
        provenance = provenance.with_required_reason("grant a reward")
        checked = spec.checked("reward")
        salary = reference_salary.checked("referenceSalary") if reference_salary else None
        return cls(
            id=id,
            employee_id=employee_id,
            spec=checked,
            origin=(
                RewardOrigin.TRIAL
                if trial_id is not None
                else RewardOrigin.MANUAL
                if basis is None
                else RewardOrigin.RULES
            ),
            basis=basis,
            reference_salary=salary,
            granted_amount=granted_amount(checked, salary),
            period=None if period is None else str(Period.parse(period)),
            granted_on=granted_on,
            provenance=provenance,
            trial_id=trial_id,
        )

    @property
    def revoked(self) -> bool:
        return self.revoked_on is not None

    @property
    def provisional(self) -> bool:
        """Granted under a trial's pilot rules and neither confirmed nor revoked yet."""
        return self.trial_id is not None and self.confirmed_on is None and not self.revoked

    def confirm(self, confirmed_on: date, provenance: Provenance) -> None:
        """Confirm a provisional reward: its trial was promoted, so it now counts in production."""
        if self.trial_id is None:
            raise InvalidInput(
                "this reward was not granted under a trial; only provisional rewards are confirmed",
                field="rewardId",
            )
        if self.revoked_on is not None:
            raise RewardAlreadyRevoked(
                f"this reward was revoked on {self.revoked_on.isoformat()}; it cannot be confirmed"
            )
        if self.confirmed_on is not None:
            raise InvalidInput(
                f"this reward was already confirmed on {self.confirmed_on.isoformat()}",
                field="rewardId",
            )
        self._confirmed(max(confirmed_on, self.granted_on), provenance)

    @event("Confirmed")
    def _confirmed(self, confirmed_on: date, provenance: Provenance) -> None:
        self.confirmed_on = confirmed_on

    def revoke(self, revoked_on: date, provenance: Provenance) -> None:
        provenance = provenance.with_required_reason("revoke a reward")
        if self.revoked_on is not None:
            raise RewardAlreadyRevoked(
                f"this reward was already revoked on {self.revoked_on.isoformat()}"
            )
        if revoked_on < self.granted_on:
            raise InvalidInput(
                f"a reward granted on {self.granted_on.isoformat()} cannot be revoked before that",
                field="today",
            )
        self._revoked(revoked_on, provenance)

    @event("Revoked")
    def _revoked(self, revoked_on: date, provenance: Provenance) -> None:
        self.revoked_on = revoked_on
