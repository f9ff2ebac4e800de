"""``explainScore``: why a score is what it is, as the chain of audit entries that produced it.

For a KPI scorecard (employee and period) or a review-cycle result (employee and cycle), live or
as of a moment: the score itself (the same object the scorecard queries return, with its
breakdown), and every recorded fact it was computed from, in log order, each as the audit entry
that recorded it (its position is the entry's key in ``auditTrail``): the goals and their
measurements and target changes, the goal set, the ratings and their calibrations, the review
cycle's moves, the employee's department moves, and the rule book's versions and adoptions up to
that moment (the version in force is named on the score). Each step says which part of the score
it feeds.

Who sees what follows the audit trail: the entries come through the same audience rules, so an
anonymous rater stays anonymous to the person rated (their entries are left out), and only
auditors, hr and admins see the confidential parts of summaries.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

import strawberry

from domain.goals import goal_set_id
from domain.periods import Period
from domain.reviews import appraisal_id
from domain.rules import RULE_BOOK_ID
from service.api.as_of import AsOf, AsOfPosition, employee_view, point
from service.api.audit_trail import AuditEntry, audience_of, entry_of
from service.api.errors import QueryError, forbidden
from service.api.past_reads import remember
from service.api.queries import parse_id
from service.api.review_types import CycleScorecard
from service.api.reviews import cycle_scorecard
from service.api.scorecards import Scorecard, scorecard_for
from service.api.types import Info


@strawberry.enum(description="Which part of a score a recorded fact feeds.")
class ScorePart(Enum):
    GOAL = "goal"
    MEASUREMENT = "measurement"
    RATING = "rating"
    CALIBRATION = "calibration"
    REVIEW_PROCESS = "review_process"
    RULES = "rules"
    ORGANISATION = "organisation"


_PARTS = {
    ("Goal", "ProgressRecorded"): ScorePart.MEASUREMENT,
    ("Appraisal", "ReviewSubmitted"): ScorePart.RATING,
    ("Appraisal", "RatingCalibrated"): ScorePart.CALIBRATION,
    ("Appraisal", "ResultCalibrated"): ScorePart.CALIBRATION,
}
_BY_AGGREGATE = {
    "Goal": ScorePart.GOAL,
    "GoalSet": ScorePart.GOAL,
    "Appraisal": ScorePart.REVIEW_PROCESS,
    "ReviewCycle": ScorePart.REVIEW_PROCESS,
    "RuleBook": ScorePart.RULES,
    "Employee": ScorePart.ORGANISATION,
}


def part_of(aggregate_type: str, event_type: str) -> ScorePart:
    found = _PARTS.get((aggregate_type, event_type))
    return found or _BY_AGGREGATE.get(aggregate_type, ScorePart.REVIEW_PROCESS)


@strawberry.type(description="One recorded fact behind a score, as its audit entry.")
class ExplanationStep:
    part: ScorePart
    entry: AuditEntry


@strawberry.type(description="A score and the chain of recorded facts that produced it.")
class ScoreExplanation:
    position: int = strawberry.field(description="The log position the score is as of.")
    recorded_at: datetime = strawberry.field(description="When that position was recorded.")
    scorecard: Scorecard | None = strawberry.field(
        description="The KPI scorecard explained (with period)."
    )
    cycle_scorecard: CycleScorecard | None = strawberry.field(
        description="The review-cycle result explained (with cycleId)."
    )
    steps: list[ExplanationStep]


_GOALS = "SELECT id, period FROM goals WHERE owner_id = $1"
_CYCLE_PERIOD = "SELECT period FROM review_cycles WHERE id = $1"
_STEPS = """
SELECT * FROM audit_trail
WHERE aggregate_id = ANY($%d::uuid[]) AND position <= $%d AND %s
ORDER BY position
"""


async def explain_score(
    info: Info,
    employee: UUID,
    period: str | None,
    cycle: UUID | None,
    at: datetime | None,
    position: int | None,
) -> ScoreExplanation:
    if (period is None) == (cycle is None):
        raise QueryError("INVALID_INPUT", "give period (a KPI scorecard) or cycleId, not both")
    if not await info.context.visibility.sees(employee):
        raise forbidden("this score")
    context = info.context
    if at is None and position is None:
        # Live: the read models' own position, so the steps and the score agree.
        async with context.pool.acquire() as conn:
            position = await context.services.projector.tracked_position(conn)
        if not position:
            raise QueryError("NOT_FOUND", "nothing has been recorded yet")
    when = await point(context, at, position)
    view = await employee_view(info, employee, None, when.position)
    async with context.pool.acquire() as conn:
        goals = await conn.fetch(_GOALS, employee)
        cycle_period = None if cycle is None else await conn.fetchval(_CYCLE_PERIOD, cycle)
    ids: set[UUID] = {employee, RULE_BOOK_ID}
    kpi: Scorecard | None = None
    result: CycleScorecard | None = None
    if period is not None:
        kpi = remember(await scorecard_for(view.context, employee, period), view)
        wanted = str(Period.parse(period))
        ids.update(UUID(g.goal_id) for g in (kpi.goals() if kpi is not None else []))
        ids.add(goal_set_id(employee, wanted))
    else:
        assert cycle is not None
        if cycle_period is None:
            raise QueryError("NOT_FOUND", f"review cycle {cycle} does not exist")
        result = remember(await cycle_scorecard(view, cycle, employee), view)
        span = Period.parse(cycle_period)
        overlapping = [g for g in goals if Period.parse(g["period"]).overlaps(span)]
        ids.update(g["id"] for g in overlapping)
        ids.update(goal_set_id(employee, g["period"]) for g in overlapping)
        ids.update({cycle, appraisal_id(cycle, employee)})
    audience = await audience_of(info)
    args = [*audience.args, sorted(ids), when.position]
    query = _STEPS % (len(args) - 1, len(args), audience.condition)
    async with context.pool.acquire() as conn:
        rows = await conn.fetch(query, *args)
    steps = [
        ExplanationStep(part=part_of(r["aggregate_type"], r["event_type"]), entry=entry_of(info, r))
        for r in rows
    ]
    return ScoreExplanation(
        position=when.position,
        recorded_at=when.recorded_at,
        scorecard=kpi,
        cycle_scorecard=result,
        steps=steps,
    )


@strawberry.type
class ExplainQuery:
    @strawberry.field(
        description="Why a score is what it is: the KPI scorecard (employeeId and period) or "
        "the review-cycle result (employeeId and cycleId), live or as of a moment, with every "
        "recorded fact it was computed from as its audit entry, in log order. Anonymous raters' "
        "entries follow the audit trail's rules."
    )
    async def explain_score(
        self,
        info: Info,
        employee_id: strawberry.ID,
        period: str | None = None,
        cycle_id: strawberry.ID | None = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> ScoreExplanation:
        return await explain_score(
            info,
            parse_id(employee_id, "employeeId"),
            period,
            None if cycle_id is None else parse_id(cycle_id, "cycleId"),
            as_of,
            as_of_position,
        )
