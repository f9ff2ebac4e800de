"""Read model: every reward ever granted, one row each, revoked ones included and flagged.

A row says what was given, to whom, for which period, on whose judgement or by which rule of which
rule-set version, at which log position, and why; revoking fills in the revocation columns and
leaves the rest as granted.

A reward granted under a trial's pilot rules is provisional: it is kept here, with its trial, but
counts in production (``in_production``) only once the trial's promotion confirms it. A rolled
back trial's rewards therefore never show in production: its results are exactly what they would
have been without the trial, while the trial's report and the audit trail keep them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from domain.rewards import Reward, RewardKind, RewardOrigin
from projections.base import Handler, event_type, upsert
from projections.organisation import OrganisationModel

DDL = """
CREATE TABLE IF NOT EXISTS rewards (
    id uuid PRIMARY KEY,
    employee_id uuid NOT NULL,
    department_id uuid,
    kind text NOT NULL,
    amount numeric,
    currency text,
    percent_of_salary numeric,
    reference_salary numeric,
    reference_currency text,
    granted_amount numeric,
    granted_currency text,
    days numeric,
    title text,
    origin text NOT NULL,
    cycle_id uuid,
    rule_set_version integer,
    rule_key text,
    tier text,
    score numeric,
    period text,
    granted_on date NOT NULL,
    granted_at timestamptz NOT NULL,
    granted_position bigint NOT NULL,
    granted_by text NOT NULL,
    grant_reason text NOT NULL,
    revoked boolean NOT NULL,
    revoked_on date,
    revoked_by text,
    revoke_reason text,
    position bigint NOT NULL,
    trial_id uuid,
    confirmed_on date,
    in_production boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS rewards_employee ON rewards (employee_id, granted_position);
CREATE INDEX IF NOT EXISTS rewards_department ON rewards (department_id, period);
CREATE INDEX IF NOT EXISTS rewards_trial ON rewards (trial_id) WHERE trial_id IS NOT NULL;
"""

# The condition production's reward queries add: no reward of a trial that was not promoted.
IN_PRODUCTION = "in_production"


@dataclass(slots=True)
class RewardRow:
    id: UUID
    employee_id: UUID
    department_id: UUID | None  # the employee's department when the reward was granted
    kind: RewardKind
    amount: Decimal | None
    currency: str | None
    percent_of_salary: Decimal | None
    reference_salary: Decimal | None
    reference_currency: str | None
    granted_amount: Decimal | None  # the money given: the fixed amount or the computed share
    granted_currency: str | None
    days: Decimal | None
    title: str | None
    origin: RewardOrigin
    cycle_id: UUID | None
    rule_set_version: int | None
    rule_key: str | None
    tier: str | None
    score: Decimal | None
    period: str | None
    granted_on: date
    granted_at: datetime
    granted_position: int
    granted_by: str
    grant_reason: str
    revoked: bool
    revoked_on: date | None
    revoked_by: str | None
    revoke_reason: str | None
    position: int
    trial_id: UUID | None = None
    confirmed_on: date | None = None

    @property
    def in_production(self) -> bool:
        """Not a trial's, or its trial was promoted (which confirmed it)."""
        return self.trial_id is None or self.confirmed_on is not None

    def values(self) -> tuple[object, ...]:
        return (
            self.id,
            self.employee_id,
            self.department_id,
            self.kind.value,
            self.amount,
            self.currency,
            self.percent_of_salary,
            self.reference_salary,
            self.reference_currency,
            self.granted_amount,
            self.granted_currency,
            self.days,
            self.title,
            self.origin.value,
            self.cycle_id,
            self.rule_set_version,
            self.rule_key,
            self.tier,
            self.score,
            self.period,
            self.granted_on,
            self.granted_at,
            self.granted_position,
            self.granted_by,
            self.grant_reason,
            self.revoked,
            self.revoked_on,
            self.revoked_by,
            self.revoke_reason,
            self.position,
            self.trial_id,
            self.confirmed_on,
            self.in_production,
        )

    @classmethod
    def from_record(cls, r: asyncpg.Record) -> RewardRow:
        values = dict(r)
        del values["in_production"]
        values["kind"] = RewardKind(values["kind"])
        values["origin"] = RewardOrigin(values["origin"])
        return cls(**values)


_COLUMNS = [
    ("id", "uuid"),
    ("employee_id", "uuid"),
    ("department_id", "uuid"),
    ("kind", "text"),
    ("amount", "numeric"),
    ("currency", "text"),
    ("percent_of_salary", "numeric"),
    ("reference_salary", "numeric"),
    ("reference_currency", "text"),
    ("granted_amount", "numeric"),
    ("granted_currency", "text"),
    ("days", "numeric"),
    ("title", "text"),
    ("origin", "text"),
    ("cycle_id", "uuid"),
    ("rule_set_version", "integer"),
    ("rule_key", "text"),
    ("tier", "text"),
    ("score", "numeric"),
    ("period", "text"),
    ("granted_on", "date"),
    ("granted_at", "timestamptz"),
    ("granted_position", "bigint"),
    ("granted_by", "text"),
    ("grant_reason", "text"),
    ("revoked", "boolean"),
    ("revoked_on", "date"),
    ("revoked_by", "text"),
    ("revoke_reason", "text"),
    ("position", "bigint"),
    ("trial_id", "uuid"),
    ("confirmed_on", "date"),
    ("in_production", "boolean"),
]


class RewardsModel:
    tables: Sequence[str] = ("rewards",)
    ddl = DDL

    def __init__(self, organisation: OrganisationModel) -> None:
        self.organisation = organisation
        self.rewards: dict[UUID, RewardRow] = {}
        self.by_employee: dict[UUID, list[UUID]] = {}  # in grant order
        self.dirty: set[UUID] = set()

    def clear(self) -> None:
        self.rewards = {}
        self.by_employee = {}
        self.dirty = set()

    def handlers(self) -> dict[type, Handler]:
        return {
            event_type(Reward, "Granted"): self._granted,
            event_type(Reward, "Revoked"): self._revoked,
            event_type(Reward, "Confirmed"): self._confirmed,
        }

    def for_employee(self, employee_id: UUID, period: str | None = None) -> list[RewardRow]:
        """The employee's rewards in production, in grant order (revoked ones too: check
        ``revoked``), for one period or, with None, all of them. A trial's rewards that no
        promotion confirmed are not production's."""
        rows = (self.rewards[i] for i in self.by_employee.get(employee_id, ()))
        return [
            row for row in rows if row.in_production and (period is None or row.period == period)
        ]

    def _index(self, row: RewardRow) -> None:
        self.by_employee.setdefault(row.employee_id, []).append(row.id)

    def _granted(self, e: Any, position: int) -> None:
        spec, basis = e.spec, e.basis
        employee = self.organisation.employees.get(e.employee_id)
        row = RewardRow(
            id=e.originator_id,
            employee_id=e.employee_id,
            department_id=employee.department_id if employee else None,
            kind=spec.kind,
            amount=spec.amount.amount if spec.amount else None,
            currency=spec.amount.currency if spec.amount else None,
            percent_of_salary=spec.percent_of_salary,
            reference_salary=e.reference_salary.amount if e.reference_salary else None,
            reference_currency=e.reference_salary.currency if e.reference_salary else None,
            granted_amount=e.granted_amount.amount if e.granted_amount else None,
            granted_currency=e.granted_amount.currency if e.granted_amount else None,
            days=spec.days,
            title=spec.title,
            origin=e.origin,
            cycle_id=basis.cycle_id if basis else None,
            rule_set_version=basis.rule_set_version if basis else None,
            rule_key=basis.rule_key if basis else None,
            tier=basis.tier if basis else None,
            score=basis.score if basis else None,
            period=e.period,
            granted_on=e.granted_on,
            granted_at=e.timestamp,
            granted_position=position,
            granted_by=e.provenance.actor_id,
            grant_reason=e.provenance.reason or "",
            revoked=False,
            revoked_on=None,
            revoked_by=None,
            revoke_reason=None,
            position=position,
            trial_id=getattr(e, "trial_id", None),  # rewards granted before trials had none
        )
        self.rewards[row.id] = row
        self._index(row)
        self.dirty.add(row.id)

    def _revoked(self, e: Any, position: int) -> None:
        row = self.rewards[e.originator_id]
        row.revoked = True
        row.revoked_on = e.revoked_on
        row.revoked_by = e.provenance.actor_id
        row.revoke_reason = e.provenance.reason
        row.position = position
        self.dirty.add(row.id)

    def _confirmed(self, e: Any, position: int) -> None:
        row = self.rewards[e.originator_id]
        row.confirmed_on = e.confirmed_on
        row.position = position
        self.dirty.add(row.id)

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT * FROM rewards ORDER BY granted_position"):
            row = RewardRow.from_record(r)
            self.rewards[row.id] = row
            self._index(row)

    async def flush(self, conn: asyncpg.Connection) -> None:
        rows = [self.rewards[i].values() for i in sorted(self.dirty)]
        await upsert(conn, "rewards", _COLUMNS, ["id"], rows)

    def committed(self) -> None:
        self.dirty.clear()
