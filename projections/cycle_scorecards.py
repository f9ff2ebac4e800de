"""Read model: one scorecard per review cycle and reviewee, the KPI and the 360 combined.

Each row is ``domain.evaluation.evaluate`` applied to the appraisal's submitted ratings (with
calibrations), the cycle's framework, scale and anonymity threshold, the calibrated result, the
reviewee's KPI score for the cycle's period and the rule set in force on the period's first day;
with the rewards those rules propose, the rewards granted and the feedback received in the period.

While the cycle is open or in calibration the KPI score is live. When the appraisal closes, its
result is computed once, at the position of the Closed event, and kept: later measurements or rule
adoptions never change a closed cycle's numbers. Only what happens after closing by design (the
approval of proposals, other rewards, late feedback about the period) still updates the row.

Eligibility rules need each month's last measurement of a goal, which the goals table does not
keep; this model keeps them (``goal_monthly_measurements``) from the goals model's measurements.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from domain.evaluation import Evaluation, SubmittedReview, evaluate
from domain.feedback import FeedbackKind
from domain.goals import GoalStatus, OwnerKind
from domain.periods import Period
from domain.proposals import Measurement, MetricHistory, propose_rewards, streaks
from domain.reviews import CycleStatus, appraisal_id
from domain.rewards import Money, RewardOrigin, RewardSpec
from projections.base import Handler, upsert, upsert_columns
from projections.feedback import FeedbackModel, month_of
from projections.goals import GoalsModel
from projections.reviews import AppraisalRow, ReviewsModel
from projections.rewards import RewardsModel
from projections.rules import RulesModel, reward_spec_to_dict
from projections.scorecards import ScorecardsModel, facts_to_json

DDL = """
CREATE TABLE IF NOT EXISTS cycle_scorecards (
    cycle_id uuid NOT NULL,
    employee_id uuid NOT NULL,
    department_id uuid NOT NULL,
    manager_id uuid,
    period text NOT NULL,
    status text NOT NULL,
    rule_set_version integer NOT NULL,
    kpi_score numeric,
    kpi_frozen boolean NOT NULL,
    review_score numeric,
    final_score numeric,
    calibrated_score numeric,
    score numeric,
    tier text,
    sources jsonb NOT NULL,
    components jsonb NOT NULL,
    proposals jsonb NOT NULL,
    rewards jsonb NOT NULL,
    feedback jsonb NOT NULL,
    position bigint NOT NULL,
    kpi_goals jsonb,  -- frozen rows: the goals as they stood at the close, for other rule sets
    PRIMARY KEY (cycle_id, employee_id)
);
CREATE INDEX IF NOT EXISTS cycle_scorecards_department
    ON cycle_scorecards (cycle_id, department_id);
CREATE TABLE IF NOT EXISTS goal_monthly_measurements (
    goal_id uuid NOT NULL,
    month text NOT NULL,
    measured_on date NOT NULL,
    value numeric NOT NULL,
    PRIMARY KEY (goal_id, month)
);
"""

_COLUMNS = [
    ("cycle_id", "uuid"),
    ("employee_id", "uuid"),
    ("department_id", "uuid"),
    ("manager_id", "uuid"),
    ("period", "text"),
    ("status", "text"),
    ("rule_set_version", "integer"),
    ("kpi_score", "numeric"),
    ("kpi_frozen", "boolean"),
    ("review_score", "numeric"),
    ("final_score", "numeric"),
    ("calibrated_score", "numeric"),
    ("score", "numeric"),
    ("tier", "text"),
    ("sources_json", "text"),
    ("components_json", "text"),
    ("proposals_json", "text"),
    ("rewards_json", "text"),
    ("feedback_json", "text"),
    ("position", "bigint"),
    ("kpi_goals_json", "text"),
]
_MONTH_COLUMNS = [
    ("goal_id", "uuid"),
    ("month", "text"),
    ("measured_on", "date"),
    ("value", "numeric"),
]

RowKey = tuple[UUID, UUID]  # cycle, employee
Month = tuple[int, int]  # year, month


@dataclass(slots=True)
class CycleScoreRow:
    cycle_id: UUID
    employee_id: UUID
    department_id: UUID
    manager_id: UUID | None
    period: str
    status: str
    rule_set_version: int
    kpi_score: Decimal | None
    kpi_frozen: bool
    review_score: Decimal | None
    final_score: Decimal | None
    calibrated_score: Decimal | None
    score: Decimal | None
    tier: str | None
    sources: str
    components: str
    proposed: list[dict[str, Any]]  # the proposals without their approval flag
    proposals: str
    rewards: str
    feedback: str
    position: int
    # Frozen rows only: the goal facts the KPI score was computed from at the close (JSON), so
    # that a what-if or a pilot scores the closed cycle under other rules on the same facts.
    kpi_goals: str | None = None

    def values(self) -> tuple[object, ...]:
        return (
            self.cycle_id,
            self.employee_id,
            self.department_id,
            self.manager_id,
            self.period,
            self.status,
            self.rule_set_version,
            self.kpi_score,
            self.kpi_frozen,
            self.review_score,
            self.final_score,
            self.calibrated_score,
            self.score,
            self.tier,
            self.sources,
            self.components,
            self.proposals,
            self.rewards,
            self.feedback,
            self.position,
            self.kpi_goals,
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def sources_json(evaluation: Evaluation) -> str:
    return json.dumps(
        [
            {
                "source": s.source.value,
                "submitted": s.submitted,
                "counted": s.counted,
                "withheld": s.withheld,
                "note": s.note,
                "ruleWeight": str(s.rule_weight),
                "effectiveWeight": str(s.effective_weight),
                "score": _text(s.score),
                "contribution": str(s.contribution),
                "competencies": [
                    {
                        "key": c.key,
                        "weight": str(c.weight),
                        "observations": c.observations,
                        "meanRating": _text(c.mean_rating),
                        "score": _text(c.score),
                    }
                    for c in s.competencies
                ],
            }
            for s in evaluation.sources
        ]
    )


def components_json(evaluation: Evaluation) -> str:
    return json.dumps(
        [
            {
                "name": c.name,
                "ruleWeight": str(c.rule_weight),
                "effectiveWeight": str(c.effective_weight),
                "score": _text(c.score),
                "contribution": str(c.contribution),
            }
            for c in evaluation.components
        ]
    )


@functools.lru_cache(maxsize=4096)
def month_text(month: Month) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


@functools.lru_cache(maxsize=4096)
def overlapping(period: str, other: str) -> bool:
    # Few distinct periods, asked about for every goal of every appraisal evaluated.
    return period == other or Period.parse(period).overlaps(Period.parse(other))


def months_of(period: Period) -> list[Month]:
    start, end = period.start, period.end
    return [
        (year, month)
        for year in range(start.year, end.year + 1)
        for month in range(1, 13)
        if (start.year, start.month) <= (year, month) <= (end.year, end.month)
    ]


class CycleScorecardsModel:
    tables: Sequence[str] = ("cycle_scorecards", "goal_monthly_measurements")
    ddl = DDL

    def __init__(
        self,
        reviews: ReviewsModel,
        goals: GoalsModel,
        scorecards: ScorecardsModel,
        rules: RulesModel,
        rewards: RewardsModel,
        feedback: FeedbackModel,
    ) -> None:
        self.reviews = reviews
        self.goals = goals
        self.scorecards = scorecards
        self.rules = rules
        self.rewards = rewards
        self.feedback = feedback
        reviews.closed_listeners.append(self._freeze)
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[RowKey, CycleScoreRow] = {}
        # goal → month → that month's last measurement (day, value); employees' goals only
        self.months: dict[UUID, dict[Month, tuple[date, Decimal]]] = {}
        # (goal, month) rows to write, in the order the log changed them (a dict as ordered set)
        self.dirty_months: dict[tuple[UUID, Month], None] = {}
        # goal → its months' measurements in order, for the eligibility rules; dropped whenever
        # a month of that goal changes
        self.history_cache: dict[UUID, tuple[Measurement, ...]] = {}
        self.synced = 0  # how many of the goals model's batch measurements are in self.months
        self.marks: dict[RowKey, int] = {}  # rows to recompute, with the position that asks
        # rows whose appraisal's status alone moved: rewritten with their scores as they stand
        self.status_marks: dict[RowKey, int] = {}

    def clear(self) -> None:
        self._reset()

    def handlers(self) -> dict[type, Handler]:
        return {}  # everything arrives through the other models' memory

    # -- inputs ------------------------------------------------------------------------------------

    def sync_measurements(self) -> None:
        """Bring the monthly measurements the eligibility rules read up to date with the goals
        model; before ``evaluated`` (the live pilot calls both, for production's side)."""
        # Runs over every measurement in the log: names bound once, outside the loop.
        measured, goals, by_goal = self.goals.measured, self.goals.goals, self.months
        dirty, cache, employee = self.dirty_months, self.history_cache, OwnerKind.EMPLOYEE
        for goal_id, day, value in measured[self.synced :]:
            if goals[goal_id].owner_kind is not employee:
                continue
            months = by_goal.get(goal_id)
            if months is None:
                months = by_goal[goal_id] = {}
            month = (day.year, day.month)
            last = months.get(month)
            # Same rule as domain.proposals.months_met: the latest day wins, on a tie the later.
            if last is None or day >= last[0]:
                months[month] = (day, value)
                dirty[(goal_id, month)] = None
                cache.pop(goal_id, None)
        self.synced = len(measured)

    def _goals_overlapping(self, employee_id: UUID, period: str) -> list[UUID]:
        """The employee's goals of any period overlapping ``period``: a yearly goal measured
        monthly ("monthly sales growth") counts towards a quarterly cycle's streak rules."""
        found: set[UUID] = set()
        for goal_period in self.goals.periods_of.get(employee_id, ()):
            if overlapping(goal_period, period):
                found.update(self.goals.by_owner_period.get((employee_id, goal_period), ()))
        return sorted(found)

    def _histories(
        self, employee_id: UUID, period: str, metrics: frozenset[str]
    ) -> list[MetricHistory]:
        """The histories of the employee's goals whose metric is one of ``metrics`` (those the
        eligibility rules ask about: a streak of any other metric proposes nothing)."""
        if not metrics:
            return []
        histories = []
        for goal_id in self._goals_overlapping(employee_id, period):
            goal = self.goals.goals[goal_id]
            if goal.status is GoalStatus.ABANDONED or goal.metric not in metrics:
                continue
            histories.append(
                MetricHistory(goal.metric, goal.direction, goal.target, self._measurements(goal_id))
            )
        return histories

    def _measurements(self, goal_id: UUID) -> tuple[Measurement, ...]:
        measurements = self.history_cache.get(goal_id)
        if measurements is None:
            months = self.months.get(goal_id, {})
            measurements = tuple(
                Measurement(day, value) for _, (day, value) in sorted(months.items())
            )
            self.history_cache[goal_id] = measurements
        return measurements

    def _mark(self, key: RowKey, position: int) -> None:
        self.marks[key] = max(self.marks.get(key, 0), position)

    def _marked(self) -> dict[RowKey, int]:
        reviews = self.reviews
        for changed, position in reviews.changed_scores.items():
            appraisal = reviews.appraisals[changed]
            self._mark((appraisal.cycle_id, appraisal.reviewee_id), position)
        for changed, position in reviews.changed_status.items():
            appraisal = reviews.appraisals[changed]
            key = (appraisal.cycle_id, appraisal.reviewee_id)
            self.status_marks[key] = max(self.status_marks.get(key, 0), position)
        for (owner_id, period), position in self.goals.changed_scores.items():
            for appraisal in reviews.appraisals_of(owner_id):
                live = appraisal.status is not CycleStatus.CLOSED
                cycle_period = reviews.cycles[appraisal.cycle_id].period
                if live and overlapping(cycle_period, period):
                    self._mark((appraisal.cycle_id, owner_id), position)
        if self.rules.adopted_at is not None:
            for appraisal in reviews.appraisals.values():
                if appraisal.status is not CycleStatus.CLOSED:
                    self._mark((appraisal.cycle_id, appraisal.reviewee_id), self.rules.adopted_at)
        for reward_id in self.rewards.dirty:
            reward = self.rewards.rewards[reward_id]
            if not reward.in_production:
                continue  # a trial's provisional reward leaves production's rows untouched
            for appraisal in reviews.appraisals_of(reward.employee_id):
                cycle = reviews.cycles[appraisal.cycle_id]
                if reward.cycle_id == cycle.id or reward.period == cycle.period:
                    self._mark((cycle.id, appraisal.reviewee_id), reward.position)
        for employee_id, month, _ in self.feedback.dirty_counts:
            appraisals = reviews.appraisals_of(employee_id)
            if not appraisals:
                continue
            positions = [
                f.position
                for f in self.feedback.received_by.get(employee_id, ())
                if month_of(f.occurred_on) == month
            ]
            if not positions:
                continue  # they gave feedback that month; the scorecard counts received
            for appraisal in appraisals:
                span = Period.parse(reviews.cycles[appraisal.cycle_id].period)
                if month_of(span.start) <= month <= month_of(span.end):
                    self._mark((appraisal.cycle_id, employee_id), max(positions))
        return self.marks

    # -- computing ---------------------------------------------------------------------------------

    def evaluated(self, appraisal: AppraisalRow, *, frozen: bool) -> CycleScoreRow:
        """The result from the other models' memory as it stands now."""
        cycle = self.reviews.cycles[appraisal.cycle_id]
        period = Period.parse(cycle.period)
        version, rules = self.rules.in_force(period.start, appraisal.reviewee_id)
        evaluation = evaluate(
            kpi_score=self.scorecards.kpi_score(appraisal.reviewee_id, cycle.period),
            reviews=[
                SubmittedReview(rater.source, rater.effective()) for rater in appraisal.submitted()
            ],
            competencies=cycle.competencies,
            scale=cycle.scale,
            anonymity_threshold=cycle.anonymity_threshold,
            rules=rules,
            calibrated_score=appraisal.calibrated_score,
        )
        kpi_goals = self._kpi_goals(appraisal) if frozen else None
        metrics = frozenset(rule.metric for rule in rules.eligibility)
        metric_streaks = streaks(
            self._histories(appraisal.reviewee_id, cycle.period, metrics), months_of(period)
        )
        proposed = [
            {
                "ruleKey": p.rule_key,
                "reward": reward_spec_to_dict(p.reward),
                "because": p.because,
            }
            for p in propose_rewards(evaluation.tier, rules, metric_streaks)
        ]
        return CycleScoreRow(
            cycle_id=cycle.id,
            employee_id=appraisal.reviewee_id,
            department_id=appraisal.department_id,
            manager_id=appraisal.manager_id,
            period=cycle.period,
            status=appraisal.status.value,
            rule_set_version=version,
            kpi_score=evaluation.kpi_score,
            kpi_frozen=frozen,
            review_score=evaluation.review_score,
            final_score=evaluation.final_score,
            calibrated_score=evaluation.calibrated_score,
            score=evaluation.score,
            tier=evaluation.tier,
            sources=sources_json(evaluation),
            components=components_json(evaluation),
            proposed=proposed,
            proposals="[]",
            rewards="[]",
            feedback="{}",
            position=0,
            kpi_goals=kpi_goals,
        )

    def _kpi_goals(self, appraisal: AppraisalRow) -> str:
        period = self.reviews.cycles[appraisal.cycle_id].period
        return facts_to_json(self.scorecards.facts(appraisal.reviewee_id, period))

    def _inputs_changed(self, appraisal: AppraisalRow) -> bool:
        """Whether anything ``_evaluated`` reads for ``appraisal`` changed since the last flush:
        the same inputs that ``_marked`` marks a row for, as far as this batch has come."""
        if appraisal.id in self.reviews.changed_scores or self.rules.adopted_at is not None:
            return True
        owner_id = appraisal.reviewee_id
        period = self.reviews.cycles[appraisal.cycle_id].period
        changed = self.goals.changed_scores
        return any(
            (owner_id, goal_period) in changed and overlapping(goal_period, period)
            for goal_period in self.goals.periods_of.get(owner_id, ())
        )

    def _freeze(self, appraisal: AppraisalRow, position: int) -> None:
        """The appraisal closed: compute its result now, at this position, once and for all."""
        key = (appraisal.cycle_id, appraisal.reviewee_id)
        previous = self.rows.get(key)
        if previous is not None and not previous.kpi_frozen and not self._inputs_changed(appraisal):
            # Nothing it is computed from moved since the last flush wrote it (as a cycle closes,
            # usually): the result at this position is that row's.
            previous.status = appraisal.status.value
            previous.kpi_frozen = True
            previous.kpi_goals = self._kpi_goals(appraisal)
        else:
            self.sync_measurements()
            row = self.evaluated(appraisal, frozen=True)
            row.position = previous.position if previous else 0
            self.rows[key] = row
        self._mark(key, position)

    def _with_rewards_and_feedback(self, row: CycleScoreRow) -> None:
        employee_rewards = self.rewards.for_employee(row.employee_id)
        # An approval is a fact: once approved, a proposal stays approved even if the reward
        # is revoked later (it cannot be approved again; the revocation shows beside it).
        approvals = {
            r.rule_key: r
            for r in employee_rewards
            if r.origin is RewardOrigin.RULES and r.cycle_id == row.cycle_id
        }
        row.proposals = json.dumps(
            [
                {
                    **p,
                    "approved": p["ruleKey"] in approvals,
                    "revoked": p["ruleKey"] in approvals and approvals[p["ruleKey"]].revoked,
                }
                for p in row.proposed
            ]
        )
        row.rewards = json.dumps(
            [
                {
                    "id": str(r.id),
                    "kind": r.kind.value,
                    "describe": RewardSpec(
                        r.kind,
                        Money(r.amount, r.currency)
                        if r.amount is not None and r.currency
                        else None,
                        r.percent_of_salary,
                        r.days,
                        r.title,
                    ).describe(),
                    "amount": _text(r.granted_amount),
                    "currency": r.granted_currency,
                    "origin": r.origin.value,
                    "ruleKey": r.rule_key,
                }
                for r in employee_rewards
                if r.period == row.period and not r.revoked
            ]
        )
        period = Period.parse(row.period)
        counts = self.feedback.counts(row.employee_id, period.start, period.end)
        row.feedback = json.dumps({kind.value: counts[kind] for kind in FeedbackKind})

    # -- storage -----------------------------------------------------------------------------------

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()
        for r in await conn.fetch("SELECT * FROM cycle_scorecards"):
            row = CycleScoreRow(
                r["cycle_id"],
                r["employee_id"],
                r["department_id"],
                r["manager_id"],
                r["period"],
                r["status"],
                r["rule_set_version"],
                r["kpi_score"],
                r["kpi_frozen"],
                r["review_score"],
                r["final_score"],
                r["calibrated_score"],
                r["score"],
                r["tier"],
                r["sources"],
                r["components"],
                [
                    {k: v for k, v in p.items() if k not in ("approved", "revoked")}
                    for p in json.loads(r["proposals"])
                ],
                r["proposals"],
                r["rewards"],
                r["feedback"],
                r["position"],
                r["kpi_goals"],
            )
            self.rows[(row.cycle_id, row.employee_id)] = row
        for r in await conn.fetch("SELECT * FROM goal_monthly_measurements"):
            year, month = (int(part) for part in r["month"].split("-"))
            self.months.setdefault(r["goal_id"], {})[(year, month)] = (
                r["measured_on"],
                r["value"],
            )

    async def flush(self, conn: asyncpg.Connection) -> None:
        self.sync_measurements()
        if self.dirty_months:
            # One row per measured month: as many rows as measurements while catching up, so the
            # columns are built directly rather than as rows to transpose.
            by_goal = self.months
            goal_ids: list[UUID] = []
            month_texts: list[str] = []
            days: list[date] = []
            values: list[Decimal] = []
            for goal_id, month in self.dirty_months:
                day, value = by_goal[goal_id][month]
                goal_ids.append(goal_id)
                month_texts.append(month_text(month))
                days.append(day)
                values.append(value)
            await upsert_columns(
                conn,
                "goal_monthly_measurements",
                _MONTH_COLUMNS,
                ["goal_id", "month"],
                [goal_ids, month_texts, days, values],
            )
        rows = []
        marks, status_marks = self._marked(), self.status_marks
        for key in sorted(marks.keys() | status_marks.keys()):
            cycle_id, employee_id = key
            position = max(marks.get(key, 0), status_marks.get(key, 0))
            previous = self.rows.get(key)
            if previous is not None and key not in marks:
                # Only the status moved (into calibration): the scores, rewards and feedback
                # stand as last written, since a change to any of them would have marked the row.
                appraisal = self.reviews.appraisals[appraisal_id(cycle_id, employee_id)]
                previous.status = appraisal.status.value
                previous.position = max(previous.position, position)
                rows.append(previous.values())
                continue
            if previous is not None and previous.kpi_frozen:
                row = previous
            else:
                appraisal = self.reviews.appraisals[appraisal_id(cycle_id, employee_id)]
                closed = appraisal.status is CycleStatus.CLOSED
                row = self.evaluated(appraisal, frozen=closed)
                row.position = previous.position if previous is not None else 0
            row.position = max(row.position, position)
            self._with_rewards_and_feedback(row)
            self.rows[key] = row
            rows.append(row.values())
        await upsert(conn, "cycle_scorecards", _COLUMNS, ["cycle_id", "employee_id"], rows)

    def committed(self) -> None:
        self.dirty_months.clear()
        self.synced = 0
        self.marks.clear()
        self.status_marks.clear()
