"""GraphQL types of 360 reviews, in three families that never share a type:

- what everyone concerned sees (cycles, appraisals, cycle scorecards and their per-source
  aggregates): no field of these types can carry a rater's id, name or reference, or one rater's
  rating, so no nesting can reach one;
- what a rater sees of their own work (assignments, their own review);
- `RaterAssignment` (managers above the reviewee, hr) and `FullReviewDetail` (hr, auditors,
  admins): the only types that name raters, reached only through queries that check the role.

Withholding is decided here, when an aggregate is built: an anonymous source (peers, customers)
with fewer than k submissions (none included, so "none" and "too few" look alike) shows no
numbers, no count and no comments. Aggregates carry no log position either: one that moved when a
withheld rater submitted would tell when they did.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, cast
from uuid import UUID

import asyncpg
import strawberry

from domain.reviews import CycleStatus, RaterSource
from projections.rules import reward_spec_from_dict
from service.api.pagination import Connection
from service.api.past_reads import read_with, remember
from service.api.reward_types import RaterSourceType, RewardSpecType
from service.api.types import Department, Employee, Info

ReviewCycleStatusType = strawberry.enum(CycleStatus, name="ReviewCycleStatus")


class RaterStatus(Enum):
    ASSIGNED = "assigned"
    DRAFT = "draft"
    SUBMITTED = "submitted"


RaterStatusType = strawberry.enum(
    RaterStatus, name="RaterStatus", description="A rater's progress: assigned, draft, submitted."
)


def parse_json(value: Any) -> Any:
    """jsonb arrives as text from the read pool. The shapes are those projections/reviews.py and
    projections/cycle_scorecards.py write."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# -- the cycle -------------------------------------------------------------------------------------


@strawberry.type
class RatingScale:
    minimum: int
    maximum: int
    labels: list[str]


@strawberry.type(description="A competency and what each rating level means, lowest first.")
class Competency:
    key: str
    name: str
    weight: Decimal
    levels: list[str]


@strawberry.type
class CycleDeadlines:
    submissions_due: date
    calibration_due: date


@strawberry.type
class ReviewScope:
    department_ids: list[strawberry.ID]
    employee_ids: list[strawberry.ID]


def competencies_of(value: Any) -> list[Competency]:
    return [
        Competency(
            key=c["key"],
            name=c["name"],
            weight=Decimal(str(c["weight"])),
            levels=list(c["levels"]),
        )
        for c in parse_json(value)
    ]


@strawberry.type(description="A 360 review cycle: framework, scale, scope and deadlines.")
class ReviewCycle:
    id: strawberry.ID
    name: str
    period: str
    status: ReviewCycleStatusType  # type: ignore[valid-type]
    scale: RatingScale
    competencies: list[Competency]
    deadlines: CycleDeadlines
    min_peer_raters: int
    anonymity_threshold: int = strawberry.field(
        description="k: an anonymous source with fewer submissions is withheld."
    )
    scope: ReviewScope
    reviewee_count: int
    opened_on: date | None
    position: int

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> ReviewCycle:
        return cls(
            id=strawberry.ID(str(r["id"])),
            name=r["name"],
            period=r["period"],
            status=CycleStatus(r["status"]),
            scale=RatingScale(
                minimum=r["scale_min"],
                maximum=r["scale_max"],
                labels=list(parse_json(r["scale_labels"]) or []),
            ),
            competencies=competencies_of(r["competencies"]),
            deadlines=CycleDeadlines(
                submissions_due=r["submissions_due"], calibration_due=r["calibration_due"]
            ),
            min_peer_raters=r["min_peer_raters"],
            anonymity_threshold=r["anonymity_threshold"],
            scope=ReviewScope(
                department_ids=[strawberry.ID(str(d)) for d in r["scope_departments"] or []],
                employee_ids=[strawberry.ID(str(e)) for e in r["scope_employees"] or []],
            ),
            reviewee_count=r["reviewee_count"],
            opened_on=r["opened_on"],
            position=r["position"],
        )

    @strawberry.field(
        description="Appraisals you may see, by reviewee code: hr, auditors and admins all; "
        "managers the people below them; everyone else their own."
    )
    async def appraisals(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[Appraisal]:
        from service.api.reviews import appraisal_page

        return await appraisal_page(info, self, first, after)


# -- aggregates: what the reviewee and their managers see ------------------------------------------

SealedBySource = dict[str, list[bytes]]


class SealedComments:
    """The sealed comments of the submitted reviews of a page of reviewees in one cycle, by
    reviewee and source, fetched in one query the first time any source asks for its comments:
    a page asks once, and a query that selects no comments never reads them."""

    def __init__(self, fetch: Callable[[], Awaitable[dict[UUID, SealedBySource]]]) -> None:
        self._fetch = fetch
        self._found: dict[UUID, SealedBySource] | None = None
        self._lock = asyncio.Lock()

    async def of(self, reviewee: UUID, source: str) -> list[bytes]:
        if self._found is None:
            async with self._lock:  # the page's other sources wait for the same fetch
                if self._found is None:
                    self._found = await self._fetch()
        return self._found.get(reviewee, {}).get(source, [])


class SourceDetails:
    """A scorecard's sources as its row stores them, competencies included, parsed at most once
    and only if some source's competencies are asked for: a department's page mostly asks for
    the sources' figures, which its query hands over without the competencies."""

    def __init__(self, raw: Any, parsed: list[dict[str, Any]] | None = None) -> None:
        self._raw = raw
        self._parsed = parsed
        self._by_source: dict[str, list[dict[str, Any]]] | None = None

    def competencies(self, source: str) -> list[dict[str, Any]]:
        if self._by_source is None:
            data = self._parsed if self._parsed is not None else parse_json(self._raw) or []
            self._by_source = {d["source"]: d["competencies"] for d in data}
        return self._by_source.get(source, [])


@strawberry.type(description="One competency within one source: the mean of its ratings.")
class CompetencyAggregate:
    key: str
    observations: int = strawberry.field(description="Ratings given (not observed: left out).")
    mean_rating: Decimal | None = strawberry.field(description="On the cycle's scale.")
    score: Decimal | None = strawberry.field(description="0-100.")


@strawberry.type(
    description="One rater source's ratings, aggregated. An anonymous source (peer, customer) "
    "with fewer than k submissions is `withheld`: no numbers, no count, no comments."
)
class SourceAggregate:
    source: RaterSourceType  # type: ignore[valid-type]
    anonymous: bool
    withheld: bool
    submitted: int | None = strawberry.field(description="Null when withheld.")
    counted: bool | None = strawberry.field(description="Whether it counts in the 360 score.")
    score: Decimal | None = strawberry.field(description="0-100.")
    effective_weight: Decimal | None = strawberry.field(
        description="Percent of the 360 score it makes up."
    )
    contribution: Decimal | None = strawberry.field(description="Points of the 360 score.")
    note: str | None = strawberry.field(description="Why it does not count, when it does not.")
    # Both None when withheld and the viewer is not hr. Competencies stay in the row's JSON
    # until asked for: five of three decimals each, per source and member, cost more than the
    # rest of a department's scorecards.
    details: strawberry.Private[SourceDetails | None]
    sealed: strawberry.Private[SealedComments | None]
    reviewee: strawberry.Private[UUID]

    @strawberry.field
    def competencies(self) -> list[CompetencyAggregate]:
        if self.details is None:
            return []
        return [
            CompetencyAggregate(
                key=c["key"],
                observations=int(c["observations"]),
                mean_rating=_decimal(c["meanRating"]),
                score=_decimal(c["score"]),
            )
            for c in self.details.competencies(RaterSource(self.source).value)
        ]

    @strawberry.field(
        description="The comments of this source's submitted reviews, unattributed and in an "
        "order that says nothing about who wrote them or when (null when withheld)."
    )
    async def comments(self, info: Info) -> list[str] | None:
        if self.sealed is None:
            return None
        sealed = await self.sealed.of(self.reviewee, RaterSource(self.source).value)
        opened = [info.context.services.secrets.open(s) for s in sealed]
        texts = [text for text in opened if text]
        return sorted(texts, key=lambda text: hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def build(
        cls,
        data: dict[str, Any],
        threshold: int,
        reviewee: UUID,
        details: SourceDetails,
        comments: SealedComments,
        *,
        reveal: bool,
    ) -> SourceAggregate:
        """``data``: the source's figures (its competencies may be left out: ``details`` has
        them). ``reveal``: hr, auditors and admins see withheld sources' figures too."""
        source = RaterSource(data["source"])
        anonymous = source.anonymous
        submitted = int(data["submitted"])
        withheld = anonymous and submitted < threshold
        if withheld and not reveal:
            return cls(
                source=source,
                anonymous=True,
                withheld=True,
                submitted=None,
                counted=None,
                score=None,
                effective_weight=None,
                contribution=None,
                note=None,
                details=None,
                sealed=None,
                reviewee=reviewee,
            )
        return cls(
            source=source,
            anonymous=anonymous,
            withheld=withheld,
            submitted=submitted,
            counted=data["counted"],
            score=_decimal(data["score"]),
            effective_weight=_decimal(data["effectiveWeight"]),
            contribution=_decimal(data["contribution"]),
            note=data["note"],
            details=details,
            sealed=comments,
            reviewee=reviewee,
        )


@strawberry.type(description="KPI or 360 review, and its share of the final score.")
class ScoreComponent:
    name: str = strawberry.field(description="kpi or review")
    rule_weight: Decimal | None
    effective_weight: Decimal | None
    score: Decimal | None
    contribution: Decimal | None


@strawberry.type(description="A reward the rule set proposes; a person approves it or not.")
class RewardProposal:
    rule_key: str
    reward: RewardSpecType
    because: str
    approved: bool = strawberry.field(
        description="Approved (a grant names this rule); stays true if the grant is revoked."
    )
    revoked: bool = strawberry.field(description="The approved reward was revoked since.")


@strawberry.type(description="A reward granted for the cycle's period (not revoked).")
class CycleReward:
    id: strawberry.ID
    summary: str
    origin: str | None
    rule_key: str | None


@strawberry.type(description="Feedback the employee received in the cycle's period.")
class FeedbackCounts:
    praise: int
    improvement: int
    one_on_one: int


@strawberry.type(
    description="Someone's result in a cycle: KPI and 360 scores, final score and tier under the "
    "rule-set version in force when the period began, with the per-source aggregates."
)
class CycleScorecard:
    cycle_id: strawberry.ID
    period: str
    status: ReviewCycleStatusType  # type: ignore[valid-type]
    rule_set_version: int
    kpi_score: Decimal | None
    kpi_frozen: bool
    review_score: Decimal | None
    final_score: Decimal | None = strawberry.field(description="As computed.")
    calibrated_score: Decimal | None = strawberry.field(description="As set in calibration.")
    score: Decimal | None = strawberry.field(description="The one that counts.")
    tier: str | None
    # The row's JSON columns, each parsed when (and if) its field is asked for: a department's
    # page of scorecards mostly asks for a few of them.
    sources_json: strawberry.Private[Any]
    source_figures_json: strawberry.Private[Any]  # the sources without competencies, if queried
    components_json: strawberry.Private[Any]
    rewards_json: strawberry.Private[Any]
    feedback_json: strawberry.Private[Any]
    proposals_json: strawberry.Private[Any]  # None: not for this viewer
    threshold: strawberry.Private[int]
    reveal: strawberry.Private[bool]
    comments: strawberry.Private[SealedComments]
    employee_id: strawberry.Private[UUID]
    department_id: strawberry.Private[UUID]
    preloaded_employee: strawberry.Private[Employee | None] = None

    @classmethod
    def from_row(
        cls,
        r: asyncpg.Record,
        threshold: int,
        comments: SealedComments,
        *,
        reveal: bool,
        show_proposals: bool,
    ) -> CycleScorecard:
        """``comments``: the sealed comments of the page ``r`` belongs to."""
        return cls(
            cycle_id=strawberry.ID(str(r["cycle_id"])),
            period=r["period"],
            status=CycleStatus(r["status"]),
            rule_set_version=r["rule_set_version"],
            kpi_score=r["kpi_score"],
            kpi_frozen=r["kpi_frozen"],
            review_score=r["review_score"],
            final_score=r["final_score"],
            calibrated_score=r["calibrated_score"],
            score=r["score"],
            tier=r["tier"],
            sources_json=r["sources"],
            source_figures_json=r.get("source_figures"),
            components_json=r["components"],
            rewards_json=r["rewards"],
            feedback_json=r["feedback"],
            proposals_json=r["proposals"] if show_proposals else None,
            threshold=threshold,
            reveal=reveal,
            comments=comments,
            employee_id=r["employee_id"],
            department_id=r["department_id"],
        )

    @strawberry.field
    def sources(self) -> list[SourceAggregate]:
        if self.source_figures_json is not None:
            figures = parse_json(self.source_figures_json) or []
            details = SourceDetails(self.sources_json)
        else:
            figures = parse_json(self.sources_json) or []
            details = SourceDetails(None, figures)
        return [
            SourceAggregate.build(
                s, self.threshold, self.employee_id, details, self.comments, reveal=self.reveal
            )
            for s in figures
        ]

    @strawberry.field
    def components(self) -> list[ScoreComponent]:
        return [
            ScoreComponent(
                name=c["name"],
                rule_weight=_decimal(c["ruleWeight"]),
                effective_weight=_decimal(c["effectiveWeight"]),
                score=_decimal(c["score"]),
                contribution=_decimal(c["contribution"]),
            )
            for c in parse_json(self.components_json) or []
        ]

    @strawberry.field
    def rewards(self) -> list[CycleReward]:
        return [
            CycleReward(
                id=strawberry.ID(str(g["id"])),
                summary=g["describe"],
                origin=g["origin"],
                rule_key=g["ruleKey"],
            )
            for g in parse_json(self.rewards_json) or []
        ]

    @strawberry.field
    def feedback(self) -> FeedbackCounts:
        feedback = parse_json(self.feedback_json) or {}
        return FeedbackCounts(
            praise=int(feedback.get("praise", 0)),
            improvement=int(feedback.get("improvement", 0)),
            one_on_one=int(feedback.get("one_on_one", 0)),
        )

    @strawberry.field
    def employee(self, info: Info) -> Employee | None:
        # Not a coroutine: a department's scorecards come with their employees, and a coroutine
        # per row costs more than the row. Otherwise the loader's future is returned, and awaited.
        if self.preloaded_employee is not None:
            return self.preloaded_employee
        return cast("Employee | None", info.context.loaders.employee.load(self.employee_id))

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await info.context.loaders.department.load(self.department_id)

    @strawberry.field(
        description="Rewards the rules propose, for those who approve them (the employee's "
        "managers, hr, auditors); null for the employee themself."
    )
    def proposals(self) -> list[RewardProposal] | None:
        if self.proposals_json is None:
            return None
        return [
            RewardProposal(
                rule_key=p["ruleKey"],
                reward=RewardSpecType.of(reward_spec_from_dict(p["reward"])),
                because=p["because"],
                approved=bool(p.get("approved", False)),
                revoked=bool(p.get("revoked", False)),
            )
            for p in parse_json(self.proposals_json) or []
        ]


@strawberry.type(description="Someone's appraisal in a cycle, as the reviewee and managers see it.")
class Appraisal:
    id: strawberry.ID
    cycle_id: strawberry.ID
    status: ReviewCycleStatusType  # type: ignore[valid-type]
    reviewee_id: strawberry.Private[UUID]
    department_id: strawberry.Private[UUID]

    @classmethod
    def from_row(cls, r: asyncpg.Record) -> Appraisal:
        return cls(
            id=strawberry.ID(str(r["id"])),
            cycle_id=strawberry.ID(str(r["cycle_id"])),
            status=CycleStatus(r["status"]),
            reviewee_id=r["reviewee_id"],
            department_id=r["department_id"],
        )

    @strawberry.field
    async def reviewee(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(self.reviewee_id)

    @strawberry.field
    async def department(self, info: Info) -> Department | None:
        return await info.context.loaders.department.load(self.department_id)

    @strawberry.field(description="The result so far, with per-source aggregates.")
    async def scorecard(self, info: Info) -> CycleScorecard | None:
        from service.api.reviews import cycle_scorecard

        view = await read_with(self, info)
        return remember(await cycle_scorecard(view, UUID(self.cycle_id), self.reviewee_id), view)


# -- a rater's own work ----------------------------------------------------------------------------


@strawberry.type(description="One rating; null value: not observed.")
class OwnRating:
    competency: str
    value: int | None
    not_observed: bool


@strawberry.type(description="Your own review of someone: the draft, or what you submitted.")
class OwnReview:
    status: RaterStatusType  # type: ignore[valid-type]
    ratings: list[OwnRating]
    submitted_at: datetime | None
    sealed: strawberry.Private[bytes | None]

    @strawberry.field
    def comments(self, info: Info) -> str:
        return info.context.services.secrets.open(self.sealed) if self.sealed else ""


@strawberry.type(description="A review you are to write.")
class ReviewAssignment:
    cycle: ReviewCycle
    source: RaterSourceType  # type: ignore[valid-type]
    status: RaterStatusType  # type: ignore[valid-type]
    review: OwnReview = strawberry.field(description="Your draft or submitted review.")
    reviewee_id: strawberry.Private[UUID]

    @strawberry.field
    async def reviewee(self, info: Info) -> Employee | None:
        return await info.context.loaders.employee.load(self.reviewee_id)


# -- the guarded views -----------------------------------------------------------------------------


@strawberry.type(
    description="Who rates someone and how far they got (managers above the reviewee, hr, "
    "auditors, admins); never what they rated."
)
class RaterAssignment:
    rater_key: str
    source: RaterSourceType  # type: ignore[valid-type]
    status: RaterStatusType  # type: ignore[valid-type]
    external_ref: str | None
    invited_until: datetime | None
    rater_id: strawberry.Private[UUID | None]

    @strawberry.field
    async def rater(self, info: Info) -> Employee | None:
        if self.rater_id is None:
            return None
        return await info.context.loaders.employee.load(self.rater_id)


@strawberry.type(description="One rating as submitted, and as calibrated when it was.")
class RatingDetail:
    competency: str
    submitted_value: int | None = strawberry.field(description="Null: not observed.")
    calibrated_value: int | None
    calibration_reason: str | None
    calibrated_by: str | None

    @strawberry.field(description="The value that counts.")
    def value(self) -> int | None:
        return self.calibrated_value if self.calibrated_value is not None else self.submitted_value


@strawberry.type(description="One rater's review, named (hr, auditors, admins only).")
class RaterReview:
    rater_key: str
    source: RaterSourceType  # type: ignore[valid-type]
    status: RaterStatusType  # type: ignore[valid-type]
    external_ref: str | None
    invited_until: datetime | None
    submitted_at: datetime | None
    ratings: list[RatingDetail]
    rater_id: strawberry.Private[UUID | None]
    sealed: strawberry.Private[bytes | None]

    @strawberry.field
    async def rater(self, info: Info) -> Employee | None:
        if self.rater_id is None:
            return None
        return await info.context.loaders.employee.load(self.rater_id)

    @strawberry.field
    def comments(self, info: Info) -> str | None:
        return info.context.services.secrets.open(self.sealed) if self.sealed else None


@strawberry.type(
    description="Everything about one appraisal: raters by name, each rating as submitted and "
    "as calibrated, comments, and every source's figures even when withheld from the reviewee "
    "(hr, auditors, admins only)."
)
class FullReviewDetail:
    appraisal: Appraisal
    raters: list[RaterReview]
    calibrated_score: Decimal | None
    scorecard: CycleScorecard | None


# -- external raters -------------------------------------------------------------------------------


@strawberry.type(description="Whom the customer rates.")
class ExternalReviewee:
    name: str
    job_title: str


@strawberry.type(description="What a customer holding an invitation needs to write their review.")
class ExternalReviewForm:
    cycle_name: str
    competencies: list[Competency]
    scale: RatingScale
    reviewee: ExternalReviewee
    expires_at: datetime
    submissions_due: date
