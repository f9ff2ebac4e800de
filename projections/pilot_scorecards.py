"""Read model: a running trial's participants scored under its pilot rules, live, beside
production.

For every participant of a running trial (``projections.trials``: those its scope held at the
start and those who joined a scope department since) two kinds of row:

- ``pilot_kpi_scorecards``: the KPI scorecard of the trial's period, ``domain.scoring.score_goals``
  of their goals under the pilot's rule set (its achievement cap, floor, perspective weights and
  tiers), beside production's scorecard of the same goals and the difference;
- ``pilot_cycle_scorecards``: for each review cycle whose period lies within the trial's, the
  appraisal result under the pilot rules, computed as ``service.whatif`` computes the pilot side
  (``domain.evaluation.evaluate`` of the submitted ratings, calibrations applied, and the KPI
  score of the cycle's period under the pilot rules; no calibrated result, which hr set under
  production's rules), with the tier rewards the pilot proposes; beside production's result as
  the cycle scorecards hold it, and the difference (pilot score minus production's computed
  final score, so that the difference is the rules' alone).

Rows follow the facts batch by batch: a measurement, a submitted or calibrated rating, an
adoption, someone joining, or a revision (everyone again, under the new version, at the
revision's position) marks the rows it changes, and only those are computed and written, in one
statement per table. Production's figures are read from the production models' memory, never
worked out here, so that however production chooses its rule set, the comparison shows what
production shows.

When a trial ends its rows stop following: they are computed one last time at the position of
the ending event (while every other model stands there too), then kept, marked closed, as the
closed trial's report. Withheld sources stay withheld: an anonymous source below the cycle's
threshold has no figure, count or note in any row, and no row names a rater.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from uuid import UUID

import asyncpg

from domain.evaluation import Evaluation, SubmittedReview, evaluate
from domain.goals import GoalStatus
from domain.periods import Period
from domain.proposals import propose_rewards
from domain.reviews import appraisal_id
from domain.rules import DEFAULT_RULES, RuleSet
from domain.scoring import GoalFacts, score_goals
from projections.base import Handler, upsert
from projections.cycle_scorecards import CycleScorecardsModel, CycleScoreRow
from projections.goals import GoalRow, GoalsModel
from projections.reviews import AppraisalRow, ReviewsModel
from projections.rules import RulesModel, reward_spec_to_dict
from projections.scorecards import ScorecardsModel, breakdown_json, facts_from_json
from projections.scorecards import goal_facts as facts_of
from projections.trials import TrialRow, TrialsModel

DDL = """
CREATE TABLE IF NOT EXISTS pilot_kpi_scorecards (
    trial_id uuid NOT NULL,
    employee_id uuid NOT NULL,
    period text NOT NULL,
    rule_set_version integer NOT NULL,
    score numeric,
    coverage numeric NOT NULL,
    tier text,
    goal_count integer NOT NULL,
    measured_count integer NOT NULL,
    breakdown jsonb NOT NULL,
    production_version integer NOT NULL,
    production_score numeric,
    production_tier text,
    delta numeric,
    closed boolean NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (trial_id, employee_id)
);
CREATE TABLE IF NOT EXISTS pilot_cycle_scorecards (
    trial_id uuid NOT NULL,
    cycle_id uuid NOT NULL,
    employee_id uuid NOT NULL,
    department_id uuid NOT NULL,
    period text NOT NULL,
    rule_set_version integer NOT NULL,
    kpi_score numeric,
    review_score numeric,
    score numeric,
    tier text,
    kpi_contribution numeric NOT NULL,
    review_contribution numeric NOT NULL,
    sources jsonb NOT NULL,
    rewards jsonb NOT NULL,
    production_version integer,
    production_kpi_score numeric,
    production_review_score numeric,
    production_final_score numeric,
    production_calibrated_score numeric,
    production_score numeric,
    production_tier text,
    production_kpi_contribution numeric,
    production_review_contribution numeric,
    production_rewards jsonb NOT NULL,
    delta numeric,
    closed boolean NOT NULL,
    position bigint NOT NULL,
    PRIMARY KEY (trial_id, cycle_id, employee_id)
);
CREATE INDEX IF NOT EXISTS pilot_cycle_scorecards_employee
    ON pilot_cycle_scorecards (trial_id, employee_id);
"""

_KPI_COLUMNS = [
    ("trial_id", "uuid"),
    ("employee_id", "uuid"),
    ("period", "text"),
    ("rule_set_version", "integer"),
    ("score", "numeric"),
    ("coverage", "numeric"),
    ("tier", "text"),
    ("goal_count", "integer"),
    ("measured_count", "integer"),
    ("breakdown_json", "text"),
    ("production_version", "integer"),
    ("production_score", "numeric"),
    ("production_tier", "text"),
    ("delta", "numeric"),
    ("closed", "boolean"),
    ("position", "bigint"),
]
_CYCLE_COLUMNS = [
    ("trial_id", "uuid"),
    ("cycle_id", "uuid"),
    ("employee_id", "uuid"),
    ("department_id", "uuid"),
    ("period", "text"),
    ("rule_set_version", "integer"),
    ("kpi_score", "numeric"),
    ("review_score", "numeric"),
    ("score", "numeric"),
    ("tier", "text"),
    ("kpi_contribution", "numeric"),
    ("review_contribution", "numeric"),
    ("sources_json", "text"),
    ("rewards_json", "text"),
    ("production_version", "integer"),
    ("production_kpi_score", "numeric"),
    ("production_review_score", "numeric"),
    ("production_final_score", "numeric"),
    ("production_calibrated_score", "numeric"),
    ("production_score", "numeric"),
    ("production_tier", "text"),
    ("production_kpi_contribution", "numeric"),
    ("production_review_contribution", "numeric"),
    ("production_rewards_json", "text"),
    ("delta", "numeric"),
    ("closed", "boolean"),
    ("position", "bigint"),
]
_CLOSE = """
UPDATE {table} AS p SET closed = true, position = t.position
FROM unnest($1::uuid[], $2::bigint[]) AS t(trial_id, position)
WHERE p.trial_id = t.trial_id AND NOT p.closed
"""

KpiKey = tuple[UUID, UUID]  # trial, employee
CycleKey = tuple[UUID, UUID, UUID]  # trial, cycle, employee
Row = tuple[object, ...]


def _difference(pilot: Decimal | None, production: Decimal | None) -> Decimal | None:
    return None if pilot is None or production is None else pilot - production


def goal_facts(rows: Iterable[GoalRow]) -> list[GoalFacts]:
    """The scoring inputs of the goals that count (abandoned ones do not)."""
    return [facts_of(g) for g in rows if g.status is not GoalStatus.ABANDONED]


def sources_json(evaluation: Evaluation) -> str:
    """Each source's part in the pilot's 360 score. A withheld source (anonymous, below the
    threshold) shows that it is withheld and nothing else: no figure, no count, no note."""
    return json.dumps(
        [
            {"source": s.source.value, "withheld": True}
            if s.withheld
            else {
                "source": s.source.value,
                "withheld": False,
                "submitted": s.submitted,
                "counted": s.counted,
                "note": s.note,
                "ruleWeight": str(s.rule_weight),
                "effectiveWeight": str(s.effective_weight),
                "score": None if s.score is None else str(s.score),
                "contribution": str(s.contribution),
            }
            for s in evaluation.sources
        ]
    )


def tier_rewards_json(tier: str | None, rules: RuleSet) -> str:
    """The rewards ``rules`` propose for ``tier`` (streak rewards do not depend on the scoring
    and are left out, as in the what-if)."""
    return json.dumps(
        [
            {"ruleKey": p.rule_key, "reward": reward_spec_to_dict(p.reward)}
            for p in propose_rewards(tier, rules, {})
        ]
    )


def contributions(components: str) -> dict[str, Decimal]:
    """Component name → contribution, from a cycle scorecard's components JSON."""
    return {c["name"]: Decimal(c["contribution"]) for c in json.loads(components)}


def within(trial: TrialRow, cycle_period: str) -> bool:
    """Whether a review cycle's period lies within the trial's."""
    span, cycle = trial.span, Period.parse(cycle_period)
    return span.start <= cycle.start and cycle.end <= span.end


def _trial_of(
    employee_id: UUID, who: Mapping[UUID, UUID], trials: Mapping[UUID, TrialRow]
) -> TrialRow | None:
    trial_id = who.get(employee_id)
    return None if trial_id is None else trials.get(trial_id)


class _Marks:
    """Rows to compute, each with the last position that asks."""

    def __init__(self) -> None:
        self.kpi: dict[KpiKey, int] = {}
        self.cycles: dict[CycleKey, int] = {}

    def mark_kpi(self, key: KpiKey, position: int) -> None:
        self.kpi[key] = max(self.kpi.get(key, 0), position)

    def mark_cycle(self, key: CycleKey, position: int) -> None:
        self.cycles[key] = max(self.cycles.get(key, 0), position)


class PilotScorecardsModel:
    tables: Sequence[str] = ("pilot_kpi_scorecards", "pilot_cycle_scorecards")
    ddl = DDL

    def __init__(
        self,
        trials: TrialsModel,
        goals: GoalsModel,
        rules: RulesModel,
        scorecards: ScorecardsModel,
        reviews: ReviewsModel,
        cycle_scorecards: CycleScorecardsModel,
    ) -> None:
        self.trials = trials
        self.goals = goals
        self.rules = rules
        self.scorecards = scorecards
        self.reviews = reviews
        self.cycle_scorecards = cycle_scorecards
        trials.ended_listeners.append(self._freeze)
        self._reset()

    def _reset(self) -> None:
        # Rows of trials that ended in this batch, computed at the ending position.
        self.frozen_kpi: dict[KpiKey, Row] = {}
        self.frozen_cycles: dict[CycleKey, Row] = {}
        self.closed: dict[UUID, int] = {}  # trials that ended in this batch → that position

    def clear(self) -> None:
        self._reset()

    def handlers(self) -> dict[type, Handler]:
        return {}  # everything arrives through the other models' memory

    async def load(self, conn: asyncpg.Connection) -> None:
        self.clear()  # rows are computed from the other models; nothing of their own to keep

    # -- which rows changed ----------------------------------------------------------------------

    def _appraisals(self, trial: TrialRow, employee_id: UUID) -> list[AppraisalRow]:
        cycles = self.reviews.cycles
        return [
            a
            for a in self.reviews.appraisals_of(employee_id)
            if within(trial, cycles[a.cycle_id].period)
        ]

    def _mark_everything(
        self, marks: _Marks, trial: TrialRow, employee_id: UUID, position: int
    ) -> None:
        marks.mark_kpi((trial.id, employee_id), position)
        for appraisal in self._appraisals(trial, employee_id):
            marks.mark_cycle((trial.id, appraisal.cycle_id, employee_id), position)

    def _collect(self, trials: Sequence[TrialRow], who: Mapping[UUID, UUID]) -> _Marks:
        """The rows of ``trials`` that this batch's facts changed so far (``who``: each of their
        participants → their trial)."""
        marks = _Marks()
        by_id = {t.id: t for t in trials}
        if not by_id:
            return marks
        for trial in trials:
            rescored = self.trials.rescored.get(trial.id)
            adopted = self.rules.adopted_at  # production's rules may have moved under everyone
            position = max(rescored or 0, adopted or 0)
            if position:
                for employee_id in trial.participants:
                    self._mark_everything(marks, trial, employee_id, position)
        for (trial_id, employee_id), position in self.trials.joined.items():
            if trial_id in by_id:
                self._mark_everything(marks, by_id[trial_id], employee_id, position)
        cycles = self.reviews.cycles
        for (owner_id, period), position in self.goals.changed_scores.items():
            piloting = _trial_of(owner_id, who, by_id)
            if piloting is None:
                continue
            if period == piloting.period:
                marks.mark_kpi((piloting.id, owner_id), position)
            for appraisal in self.reviews.appraisals_of(owner_id):
                cycle_period = cycles[appraisal.cycle_id].period
                if cycle_period == period and within(piloting, cycle_period):
                    marks.mark_cycle((piloting.id, appraisal.cycle_id, owner_id), position)
        appraisals = self.reviews.appraisals
        for changed in (self.reviews.changed_scores, self.reviews.changed_status):
            for appraisal_key, position in changed.items():
                appraisal = appraisals[appraisal_key]
                reviewed = _trial_of(appraisal.reviewee_id, who, by_id)
                if reviewed is not None and within(reviewed, cycles[appraisal.cycle_id].period):
                    key = (reviewed.id, appraisal.cycle_id, appraisal.reviewee_id)
                    marks.mark_cycle(key, position)
        return marks

    # -- computing -------------------------------------------------------------------------------

    def _rules(self, version: int | None) -> RuleSet:
        if not version:
            return DEFAULT_RULES
        return self.rules.versions.get(version, DEFAULT_RULES)

    def _kpi_row(self, trial: TrialRow, employee_id: UUID, position: int, closed: bool) -> Row:
        # Production's scorecard of the period, as the scorecards model computes it now (its
        # rule set is production's choice: the version in force for this person then).
        goals, active, production_version, production = self.scorecards.scored(
            employee_id, trial.period
        )
        del goals
        kpi = score_goals(goal_facts(active), self._rules(trial.rule_set_version))
        return (
            trial.id,
            employee_id,
            trial.period,
            trial.rule_set_version,
            kpi.score,
            kpi.coverage,
            kpi.tier,
            len(active),
            sum(1 for g in active if g.latest_value is not None),
            breakdown_json(kpi),
            production_version,
            production.score,
            production.tier,
            _difference(kpi.score, production.score),
            closed,
            position,
        )

    def _cycle_row(
        self,
        trial: TrialRow,
        appraisal: AppraisalRow,
        production: CycleScoreRow | None,
        position: int,
        closed: bool,
    ) -> Row:
        """The appraisal under the pilot's rules, as ``service.whatif.outcome`` computes it: on
        the goals as production froze them at the cycle's close, once it closed."""
        cycle = self.reviews.cycles[appraisal.cycle_id]
        rules = self._rules(trial.rule_set_version)
        if production is not None and production.kpi_frozen and production.kpi_goals is not None:
            facts = facts_from_json(production.kpi_goals)
        else:
            facts = goal_facts(
                self.goals.goals[goal_id]
                for goal_id in self.goals.by_owner_period.get(
                    (appraisal.reviewee_id, cycle.period), ()
                )
            )
        evaluation = evaluate(
            kpi_score=score_goals(facts, rules).score if facts else None,
            reviews=[
                SubmittedReview(rater.source, rater.effective()) for rater in appraisal.submitted()
            ],
            competencies=cycle.competencies,
            scale=cycle.scale,
            anonymity_threshold=cycle.anonymity_threshold,
            rules=rules,
        )
        parts = {c.name: c.contribution for c in evaluation.components}
        made = contributions(production.components) if production is not None else {}
        return (
            trial.id,
            cycle.id,
            appraisal.reviewee_id,
            appraisal.department_id,
            cycle.period,
            trial.rule_set_version,
            evaluation.kpi_score,
            evaluation.review_score,
            evaluation.score,
            evaluation.tier,
            parts.get("kpi", Decimal(0)),
            parts.get("review", Decimal(0)),
            sources_json(evaluation),
            tier_rewards_json(evaluation.tier, rules),
            *self._production(production, made),
            _difference(evaluation.score, production.final_score if production else None),
            closed,
            position,
        )

    def _production(self, row: CycleScoreRow | None, made: dict[str, Decimal]) -> Row:
        if row is None:
            return (None, None, None, None, None, None, None, None, None, "[]")
        return (
            row.rule_set_version,
            row.kpi_score,
            row.review_score,
            row.final_score,
            row.calibrated_score,
            row.score,
            row.tier,
            made.get("kpi", Decimal(0)),
            made.get("review", Decimal(0)),
            tier_rewards_json(row.tier, self._rules(row.rule_set_version)),
        )

    def _production_now(self, appraisal: AppraisalRow) -> CycleScoreRow:
        """Production's result for the appraisal at this very position (in the middle of a
        batch, where the cycle scorecards' rows stand as of their last flush): a closed
        appraisal's frozen row, else the result its model computes from memory now."""
        cycle_scorecards = self.cycle_scorecards
        row = cycle_scorecards.rows.get((appraisal.cycle_id, appraisal.reviewee_id))
        if row is not None and row.kpi_frozen:
            return row
        cycle_scorecards.sync_measurements()
        return cycle_scorecards.evaluated(appraisal, frozen=False)

    def _appraisal(self, key: CycleKey) -> AppraisalRow:
        _, cycle_id, employee_id = key
        return self.reviews.appraisals[appraisal_id(cycle_id, employee_id)]

    # -- a trial ends ----------------------------------------------------------------------------

    def _freeze(self, trial: TrialRow, position: int) -> None:
        """The trial ended at ``position``: compute what changed since the last flush now, as
        every model stands here, and keep the rows as they are from then on."""
        marks = self._collect([trial], dict.fromkeys(trial.participants, trial.id))
        for (_, employee_id), _mark in sorted(marks.kpi.items()):
            self.frozen_kpi[(trial.id, employee_id)] = self._kpi_row(
                trial, employee_id, position, True
            )
        for key in sorted(marks.cycles):
            appraisal = self._appraisal(key)
            production = self._production_now(appraisal)
            self.frozen_cycles[key] = self._cycle_row(trial, appraisal, production, position, True)
        self.closed[trial.id] = position

    # -- storage ---------------------------------------------------------------------------------

    async def flush(self, conn: asyncpg.Connection) -> None:
        running = self.trials.running()
        marks = self._collect(running, self.trials.piloted)
        trials = {t.id: t for t in running}
        kpi_rows = dict(self.frozen_kpi)
        for key, position in marks.kpi.items():
            trial_id, employee_id = key
            kpi_rows[key] = self._kpi_row(trials[trial_id], employee_id, position, False)
        production = self.cycle_scorecards.rows  # flushed before this model: current
        cycle_rows = dict(self.frozen_cycles)
        for cycle_key, position in marks.cycles.items():
            trial_id, cycle_id, employee_id = cycle_key
            cycle_rows[cycle_key] = self._cycle_row(
                trials[trial_id],
                self._appraisal(cycle_key),
                production.get((cycle_id, employee_id)),
                position,
                False,
            )
        await upsert(
            conn,
            "pilot_kpi_scorecards",
            _KPI_COLUMNS,
            ["trial_id", "employee_id"],
            [kpi_rows[k] for k in sorted(kpi_rows)],
        )
        await upsert(
            conn,
            "pilot_cycle_scorecards",
            _CYCLE_COLUMNS,
            ["trial_id", "cycle_id", "employee_id"],
            [cycle_rows[k] for k in sorted(cycle_rows)],
        )
        if self.closed:
            ended = sorted(self.closed.items())
            for table in self.tables:
                await conn.execute(
                    _CLOSE.format(table=table), [t for t, _ in ended], [p for _, p in ended]
                )

    def committed(self) -> None:
        self._reset()
