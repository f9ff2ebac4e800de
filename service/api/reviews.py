"""360 reviews over GraphQL, the reading side. Read models only, except an external rater's form,
which the application derives from the invitation token (so a used or expired token shows no
form).

Who sees what (every path, nested fields included):

- hr, auditors, admins: everything; raters by name only through `reviewDetail`;
- the reviewee and the managers above them: appraisals and cycle scorecards, whose types carry
  per-source aggregates and no rater (review_types.py); managers also `appraisalRaters` (who
  rates, how far they got, never what they rated);
- a rater: their own assignments and their own review;
- a customer with an invitation token: `externalReviewForm` and `submitExternalReview`, nothing
  else (`external_rater_refusal`, checked before anything executes).
"""

from __future__ import annotations

import base64
import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from uuid import UUID

import asyncpg
import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)

from domain.errors import DomainError
from domain.provenance import Role
from domain.reviews import CycleStatus, RaterSource, appraisal_id
from domain.rules import DEFAULT_RULES, RuleSet
from projections.organisation import DEPARTMENT_TREE
from projections.rules import rules_from_json
from service.api.as_of import AsOf, AsOfPosition, employee_view
from service.api.errors import QueryError, forbidden
from service.api.pagination import Connection, Edge, decode_cursor, encode_cursor, page_size
from service.api.past_reads import remember
from service.api.queries import MinPosition, _reach, parse_id
from service.api.review_types import (
    Appraisal,
    Competency,
    CycleScorecard,
    ExternalReviewee,
    ExternalReviewForm,
    FullReviewDetail,
    OwnRating,
    OwnReview,
    RaterAssignment,
    RaterReview,
    RaterStatus,
    RatingDetail,
    RatingScale,
    ReviewAssignment,
    ReviewCycle,
    ReviewCycleStatusType,
    SealedBySource,
    SealedComments,
    parse_json,
)
from service.api.types import Department, Employee, Info, PageInfo

CENT = Decimal("0.01")

# -- external raters: only their form and their submission -----------------------------------------

EXTERNAL_FIELDS = frozenset({"externalReviewForm", "submitExternalReview", "__typename"})


def external_rater_refusal(query: str) -> str | None:
    """Why a customer's request is refused, or None when it asks only for what they may use.

    Checked on the document before execution, over every operation and every fragment spread
    at the top level, so no alias, fragment or introspection reaches another field.
    """
    try:
        document = parse(query)
    except GraphQLError:
        return None  # execution reports the syntax error; nothing runs
    refused = sorted(
        {
            field.name.value
            for field in _root_fields(document)
            if field.name.value not in EXTERNAL_FIELDS
        }
    )
    if not refused:
        return None
    return (
        "a review invitation allows only externalReviewForm and submitExternalReview, not "
        + ", ".join(refused)
    )


def _root_fields(document: DocumentNode) -> Iterator[FieldNode]:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode) -> Iterator[FieldNode]:
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    yield from walk(fragments[name].selection_set)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            yield from walk(definition.selection_set)


def _no_external(info: Info) -> None:
    # The document check above already refuses these; this keeps each resolver safe on its own.
    if info.context.external is not None:
        raise forbidden("anything but your review form")


async def external_review_form(info: Info) -> ExternalReviewForm:
    ctx = info.context
    if ctx.external is None:
        raise QueryError(
            "FORBIDDEN", "externalReviewForm answers only to a review invitation token"
        )
    token = ctx.external.token
    app = ctx.services.app

    def load() -> tuple[Any, Any, str, Any]:
        cycle, appraisal, key = app.external_invitation(token, datetime.now(UTC))
        return cycle, appraisal, key, app.repository.get(appraisal.reviewee_id)

    try:
        cycle, appraisal, key, reviewee = await ctx.services.call(load)
    except DomainError as error:
        raise QueryError(error.code, error.message) from None
    definition = cycle.definition
    return ExternalReviewForm(
        cycle_name=definition.name,
        competencies=[
            Competency(key=c.key, name=c.name, weight=c.weight, levels=list(c.levels))
            for c in definition.competencies
        ],
        scale=RatingScale(
            minimum=definition.scale.minimum,
            maximum=definition.scale.maximum,
            labels=list(definition.scale.labels),
        ),
        reviewee=ExternalReviewee(name=reviewee.name, job_title=reviewee.job_title),
        expires_at=appraisal.raters[key].invitation_expires_at,
        submissions_due=definition.deadlines.submissions_due,
    )


# -- cycles ----------------------------------------------------------------------------------------


async def _fetch(info: Info, query: str, *args: object) -> list[asyncpg.Record]:
    async with info.context.pool.acquire() as conn:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows


def _sees_drafts(info: Info) -> bool:
    """Draft cycles are hr's work in progress: only hr, auditors and admins see them."""
    return info.context.visibility.everyone


_CYCLE = "SELECT * FROM review_cycles WHERE id = $1"


def _visible_cycle(info: Info, cycle_id: UUID, rows: list[asyncpg.Record]) -> ReviewCycle:
    if not rows or (rows[0]["status"] == CycleStatus.DRAFT.value and not _sees_drafts(info)):
        raise QueryError("NOT_FOUND", f"review cycle {cycle_id} does not exist")
    return ReviewCycle.from_row(rows[0])


async def _cycle(info: Info, cycle_id: UUID) -> ReviewCycle:
    return _visible_cycle(info, cycle_id, await _fetch(info, _CYCLE, cycle_id))


async def _cycles(info: Info, ids: list[UUID]) -> dict[UUID, ReviewCycle]:
    rows = await _fetch(info, "SELECT * FROM review_cycles WHERE id = ANY($1::uuid[])", ids)
    return {r["id"]: ReviewCycle.from_row(r) for r in rows}


async def review_cycle_page(
    info: Info, status: CycleStatus | None, first: int, after: str | None
) -> Connection[ReviewCycle]:
    limit = page_size(first)
    key = decode_cursor(after)
    args: list[object] = []
    conditions = ["TRUE"]
    if not _sees_drafts(info):
        conditions.append("status <> 'draft'")
    if status is not None:
        args.append(status.value)
        conditions.append(f"status = ${len(args)}")
    where = " AND ".join(conditions)
    async with info.context.pool.acquire() as conn:
        total: int = await conn.fetchval(f"SELECT count(*) FROM review_cycles WHERE {where}", *args)
        if key is not None:
            if len(key) != 3:
                raise QueryError("INVALID_CURSOR", "the 'after' cursor is not a cycles cursor")
            args.extend([key[0], key[1], parse_id(key[2], "after")])
            n = len(args)
            where += f" AND (period, name, id) > (${n - 2}, ${n - 1}, ${n})"
        rows = await conn.fetch(
            f"SELECT * FROM review_cycles WHERE {where} ORDER BY period, name, id "
            f"LIMIT {limit + 1}",
            *args,
        )
    nodes = [ReviewCycle.from_row(r) for r in rows[:limit]]

    def cursor(c: ReviewCycle) -> str:
        return encode_cursor([c.period, c.name, str(c.id)])

    return Connection(
        edges=[Edge(cursor=cursor(c), node=c) for c in nodes],
        page_info=PageInfo(
            has_next_page=len(rows) > limit, end_cursor=cursor(nodes[-1]) if nodes else None
        ),
        total=total,
    )


# -- appraisals and cycle scorecards ---------------------------------------------------------------


async def appraisal_page(
    info: Info, cycle: ReviewCycle, first: int, after: str | None
) -> Connection[Appraisal]:
    limit = page_size(first)
    key = decode_cursor(after)
    args: list[object] = [UUID(cycle.id)]
    where = "a.cycle_id = $1"
    visible = await info.context.visibility.people()
    if visible is not None:
        args.append(list(visible))
        where += f" AND a.reviewee_id = ANY(${len(args)}::uuid[])"
    async with info.context.pool.acquire() as conn:
        total: int = await conn.fetchval(f"SELECT count(*) FROM appraisals a WHERE {where}", *args)
        if key is not None:
            args.append(key[0])
            where += f" AND e.code > ${len(args)}"
        rows = await conn.fetch(
            f"SELECT a.*, e.code FROM appraisals a JOIN employees e ON e.id = a.reviewee_id "
            f"WHERE {where} ORDER BY e.code LIMIT {limit + 1}",
            *args,
        )
    nodes = rows[:limit]
    return Connection(
        edges=[Edge(cursor=encode_cursor([r["code"]]), node=Appraisal.from_row(r)) for r in nodes],
        page_info=PageInfo(
            has_next_page=len(rows) > limit,
            end_cursor=encode_cursor([nodes[-1]["code"]]) if nodes else None,
        ),
        total=total,
    )


async def _require_sees(info: Info, employee_id: UUID, what: str) -> None:
    if not await info.context.visibility.sees(employee_id):
        raise forbidden(what)


async def appraisal(info: Info, cycle_id: UUID, employee_id: UUID) -> Appraisal | None:
    await _require_sees(info, employee_id, "this appraisal")
    rows = await _fetch(
        info, "SELECT * FROM appraisals WHERE id = $1", appraisal_id(cycle_id, employee_id)
    )
    return Appraisal.from_row(rows[0]) if rows else None


# The sealed comments of submitted reviews, by appraisal and source (never by rater).
_COMMENTS = """
SELECT appraisal_id, source, comments_sealed FROM review_raters
WHERE appraisal_id = ANY($1::uuid[]) AND status = 'submitted' AND comments_sealed IS NOT NULL
"""


async def _comments(
    info: Info, cycle_id: UUID, reviewees: list[UUID]
) -> dict[UUID, SealedBySource]:
    """By reviewee: the appraisal ids are worked out only when comments are asked for."""
    reviewee_of = {appraisal_id(cycle_id, r): r for r in reviewees}
    found: dict[UUID, SealedBySource] = defaultdict(lambda: defaultdict(list))
    if reviewee_of:
        for r in await _fetch(info, _COMMENTS, list(reviewee_of)):
            found[reviewee_of[r["appraisal_id"]]][r["source"]].append(r["comments_sealed"])
    return found


def _full_view(info: Info, reviewee_id: UUID) -> bool:
    """Raters' identities and individual ratings: hr, auditors and admins, except about
    themselves. An hr person being reviewed is a reviewee like anyone else."""
    return info.context.visibility.everyone and reviewee_id != info.context.viewer.employee_id


def _shows_proposals(info: Info, employee_id: UUID) -> bool:
    """Proposals are for those who approve them, not for the person proposed."""
    return info.context.visibility.everyone or employee_id != info.context.viewer.employee_id


def _scorecards(info: Info, cycle: ReviewCycle, rows: list[asyncpg.Record]) -> list[CycleScorecard]:
    """Scorecards from rows the viewer may see; their sources' comments are read (for all of
    them at once) only if the query asks for comments."""
    reviewees = [r["employee_id"] for r in rows]
    comments = SealedComments(lambda: _comments(info, UUID(cycle.id), reviewees))
    return [
        CycleScorecard.from_row(
            r,
            cycle.anonymity_threshold,
            comments,
            reveal=_full_view(info, r["employee_id"]),
            show_proposals=_shows_proposals(info, r["employee_id"]),
        )
        for r in rows
    ]


async def cycle_scorecard(info: Info, cycle_id: UUID, employee_id: UUID) -> CycleScorecard | None:
    await _require_sees(info, employee_id, "this scorecard")
    cycle = await _cycle(info, cycle_id)
    rows = await _fetch(
        info,
        "SELECT * FROM cycle_scorecards WHERE cycle_id = $1 AND employee_id = $2",
        cycle_id,
        employee_id,
    )
    cards = _scorecards(info, cycle, rows)
    return cards[0] if cards else None


# -- department roll-up ----------------------------------------------------------------------------


@strawberry.type(description="How many reached a tier, against the rule set's guideline.")
class TierShareCount:
    tier: str
    count: int
    percent: Decimal | None = strawberry.field(description="Of the members with a tier.")
    guideline_max_percent: Decimal | None = strawberry.field(
        description="The rule set's advisory ceiling for this tier, if any."
    )
    over_guideline: bool = strawberry.field(description="More than the guideline allows.")


async def _department_tiers(root: DepartmentCycleScorecard, info: Info) -> list[TierShareCount]:
    # The rule set's guideline is read only when the tiers are asked for.
    version = root.rule_set_version
    rules = await _rules(info, version) if version is not None else DEFAULT_RULES
    return _tier_shares(rules, root.member_tiers)


@strawberry.type(
    description="A department's results in a cycle, over the members you may see: tier counts "
    "against the distribution guideline, mean, median, spread, and the members."
)
class DepartmentCycleScorecard:
    cycle: ReviewCycle
    department: Department
    rule_set_version: int | None
    count: int = strawberry.field(description="Members with a score.")
    mean: Decimal | None
    median: Decimal | None
    standard_deviation: Decimal | None = strawberry.field(description="Population, 0-100 points.")
    tiers: list[TierShareCount] = strawberry.field(resolver=_department_tiers)
    members: Connection[CycleScorecard] = strawberry.field(description="By employee code.")
    member_tiers: strawberry.Private[list[str | None]]


def _round(value: float | Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN)


async def _rules(info: Info, version: int) -> RuleSet:
    if version == 0:
        return DEFAULT_RULES
    rows = await _fetch(info, "SELECT rules FROM rule_sets WHERE version = $1", version)
    return rules_from_json(rows[0]["rules"]) if rows else DEFAULT_RULES


def _tier_shares(rules: RuleSet, tiers: list[str | None]) -> list[TierShareCount]:
    counted = [t for t in tiers if t is not None]
    guideline = {share.tier: share.max_percent for share in rules.distribution}
    names = [t.name for t in rules.tiers]
    names += sorted({t for t in counted if t not in names})
    shares: list[TierShareCount] = []
    for name in names:
        count = counted.count(name)
        percent = _round(Decimal(count) * 100 / len(counted)) if counted else None
        ceiling = guideline.get(name)
        shares.append(
            TierShareCount(
                tier=name,
                count=count,
                percent=percent,
                guideline_max_percent=ceiling,
                over_guideline=ceiling is not None and percent is not None and percent > ceiling,
            )
        )
    return shares


_SUBTREE = DEPARTMENT_TREE + "SELECT id FROM tree"

# The members with their directory entries, so a page's `employee` needs no second query, and
# their sources' figures without the competencies (a quarter of the JSON to parse; the
# competencies are parsed from `sources` only when asked for). Not the goals a result was frozen
# with (``kpi_goals``): no answer here shows them.
_MEMBERS = """
SELECT s.cycle_id, s.employee_id, s.department_id, s.manager_id, s.period, s.status,
       s.rule_set_version, s.kpi_score, s.kpi_frozen, s.review_score, s.final_score,
       s.calibrated_score, s.score, s.tier, s.sources, s.components, s.proposals, s.rewards,
       s.feedback, s.position, e.code, e.name, e.job_title, e.hire_date, e.leave_date,
       e.department_id AS e_department_id, e.manager_id AS e_manager_id, e.attributes,
       (SELECT jsonb_agg(f.source - 'competencies' ORDER BY f.n)
        FROM jsonb_array_elements(s.sources) WITH ORDINALITY AS f(source, n)) AS source_figures
FROM cycle_scorecards s JOIN employees e ON e.id = s.employee_id
WHERE s.cycle_id = $1 AND s.department_id = ANY($2::uuid[])
ORDER BY e.code
"""

_DEPARTMENT = "SELECT * FROM departments WHERE id = $1"


def _member(r: asyncpg.Record) -> Employee:
    return Employee(
        id=strawberry.ID(str(r["employee_id"])),
        code=r["code"],
        name=r["name"],
        job_title=r["job_title"],
        hire_date=r["hire_date"],
        leave_date=r["leave_date"],
        department_id=r["e_department_id"],
        manager_id=r["e_manager_id"],
        attributes_json=r["attributes"],
    )


async def department_cycle_scorecard(
    info: Info,
    cycle_id: UUID,
    department_id: UUID,
    *,
    include_sub_departments: bool,
    first: int,
    after: str | None,
) -> DepartmentCycleScorecard:
    ctx = info.context
    if not ctx.visibility.everyone and ctx.viewer.role is not Role.MANAGER:
        raise forbidden("department results")
    limit = page_size(first)
    key = decode_cursor(after)
    visible = await ctx.visibility.people()  # before ours: it may take a connection of its own
    # One connection for the whole read: every acquisition costs a reset on release.
    async with ctx.pool.acquire() as conn:
        cycle = _visible_cycle(info, cycle_id, await conn.fetch(_CYCLE, cycle_id))
        found = await conn.fetch(_DEPARTMENT, department_id)
        if not found:
            raise QueryError("NOT_FOUND", f"department {department_id} does not exist")
        departments = [department_id]
        if include_sub_departments:
            departments = [r["id"] for r in await conn.fetch(_SUBTREE, [department_id])]
        rows = await conn.fetch(_MEMBERS, cycle_id, departments)
    if visible is not None:
        rows = [r for r in rows if r["employee_id"] in visible]
    scores = [r["score"] for r in rows if r["score"] is not None]
    start = 0
    if key is not None:
        start = next((i for i, r in enumerate(rows) if r["code"] > key[0]), len(rows))
    page = rows[start : start + limit]
    cards = _scorecards(info, cycle, page)
    for r, card in zip(page, cards, strict=True):
        card.preloaded_employee = _member(r)
    return DepartmentCycleScorecard(
        cycle=cycle,
        department=Department.from_row(found[0]),
        rule_set_version=rows[0]["rule_set_version"] if rows else None,
        count=len(scores),
        mean=_round(sum(scores, Decimal(0)) / len(scores)) if scores else None,
        median=_round(statistics.median(scores)) if scores else None,
        standard_deviation=_round(statistics.pstdev([float(s) for s in scores]))
        if len(scores) > 1
        else None,
        member_tiers=[r["tier"] for r in rows],
        members=Connection(
            edges=[
                Edge(cursor=encode_cursor([r["code"]]), node=card)
                for r, card in zip(page, cards, strict=True)
            ],
            page_info=PageInfo(
                has_next_page=start + limit < len(rows),
                end_cursor=encode_cursor([page[-1]["code"]]) if page else None,
            ),
            total=len(rows),
        ),
    )


# -- a rater's own work ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _RaterRow:
    appraisal_id: UUID
    rater_key: str


async def _own_reviews(info: Info, rows: list[asyncpg.Record]) -> dict[_RaterRow, OwnReview]:
    """The viewer's own reviews for their rater rows: the draft, or the submitted values."""
    submitted = [r for r in rows if r["status"] == RaterStatus.SUBMITTED.value]
    values: dict[_RaterRow, list[OwnRating]] = defaultdict(list)
    if submitted:
        for x in await _fetch(
            info,
            "SELECT r.* FROM review_ratings r JOIN unnest($1::uuid[], $2::text[]) AS k(a, k) "
            "ON r.appraisal_id = k.a AND r.rater_key = k.k ORDER BY r.competency",
            [r["appraisal_id"] for r in submitted],
            [r["rater_key"] for r in submitted],
        ):
            values[_RaterRow(x["appraisal_id"], x["rater_key"])].append(
                OwnRating(
                    competency=x["competency"],
                    value=x["submitted_value"],
                    not_observed=x["submitted_value"] is None,
                )
            )
    reviews: dict[_RaterRow, OwnReview] = {}
    for r in rows:
        key = _RaterRow(r["appraisal_id"], r["rater_key"])
        status = RaterStatus(r["status"])
        if status is RaterStatus.DRAFT:
            draft = parse_json(r["draft_json"]) or {}
            sealed_b64 = draft.get("comments_sealed_b64")
            reviews[key] = OwnReview(
                status=status,
                ratings=[
                    OwnRating(
                        competency=d["competency"],
                        value=d["value"],
                        not_observed=d["value"] is None,
                    )
                    for d in draft.get("ratings", [])
                ],
                submitted_at=None,
                sealed=base64.b64decode(sealed_b64) if sealed_b64 else None,
            )
        else:
            reviews[key] = OwnReview(
                status=status,
                ratings=values.get(key, []),
                submitted_at=r["submitted_at"],
                sealed=r["comments_sealed"],
            )
    return reviews


async def my_review_assignments(info: Info, cycle_id: UUID | None) -> list[ReviewAssignment]:
    args: list[object] = [info.context.viewer.employee_id]
    where = "r.rater_employee_id = $1 AND c.status <> 'draft'"
    if cycle_id is not None:
        args.append(cycle_id)
        where += " AND r.cycle_id = $2"
    rows = await _fetch(
        info,
        "SELECT r.* FROM review_raters r JOIN review_cycles c ON c.id = r.cycle_id "
        "JOIN employees e ON e.id = r.reviewee_id "
        f"WHERE {where} ORDER BY c.period, c.name, c.id, e.code",
        *args,
    )
    cycles = await _cycles(info, list({r["cycle_id"] for r in rows}))
    reviews = await _own_reviews(info, rows)
    return [
        ReviewAssignment(
            cycle=cycles[r["cycle_id"]],
            source=RaterSource(r["source"]),
            status=RaterStatus(r["status"]),
            review=reviews[_RaterRow(r["appraisal_id"], r["rater_key"])],
            reviewee_id=r["reviewee_id"],
        )
        for r in rows
    ]


async def my_review(info: Info, cycle_id: UUID, reviewee_id: UUID) -> OwnReview | None:
    rows = await _fetch(
        info,
        "SELECT * FROM review_raters WHERE appraisal_id = $1 AND rater_employee_id = $2",
        appraisal_id(cycle_id, reviewee_id),
        info.context.viewer.employee_id,
    )
    reviews = await _own_reviews(info, rows)
    return next(iter(reviews.values()), None)


# -- the guarded views -----------------------------------------------------------------------------


async def appraisal_raters(info: Info, cycle_id: UUID, reviewee_id: UUID) -> list[RaterAssignment]:
    ctx = info.context
    above = reviewee_id != ctx.viewer.employee_id and await ctx.visibility.sees(reviewee_id)
    if not (_full_view(info, reviewee_id) or above):
        raise forbidden("who rates this person")
    rows = await _fetch(
        info,
        "SELECT * FROM review_raters WHERE appraisal_id = $1 ORDER BY source, rater_key",
        appraisal_id(cycle_id, reviewee_id),
    )
    return [
        RaterAssignment(
            rater_key=r["rater_key"],
            source=RaterSource(r["source"]),
            status=RaterStatus(r["status"]),
            external_ref=r["external_ref"],
            invited_until=r["invited_until"],
            rater_id=r["rater_employee_id"],
        )
        for r in rows
    ]


async def review_detail(info: Info, cycle_id: UUID, reviewee_id: UUID) -> FullReviewDetail | None:
    if not _full_view(info, reviewee_id):
        raise forbidden(
            "raters' identities and individual ratings (hr, auditors and admins; never about "
            "themselves)"
        )
    found = await appraisal(info, cycle_id, reviewee_id)
    if found is None:
        return None
    the_appraisal = appraisal_id(cycle_id, reviewee_id)
    raters = await _fetch(
        info,
        "SELECT * FROM review_raters WHERE appraisal_id = $1 ORDER BY source, rater_key",
        the_appraisal,
    )
    ratings: dict[str, list[RatingDetail]] = defaultdict(list)
    for x in await _fetch(
        info,
        "SELECT * FROM review_ratings WHERE appraisal_id = $1 ORDER BY competency",
        the_appraisal,
    ):
        ratings[x["rater_key"]].append(
            RatingDetail(
                competency=x["competency"],
                submitted_value=x["submitted_value"],
                calibrated_value=x["calibrated_value"],
                calibration_reason=x["calibration_reason"],
                calibrated_by=x["calibrated_by"],
            )
        )
    rows = await _fetch(
        info, "SELECT calibrated_score FROM appraisals WHERE id = $1", the_appraisal
    )
    return FullReviewDetail(
        appraisal=found,
        raters=[
            RaterReview(
                rater_key=r["rater_key"],
                source=RaterSource(r["source"]),
                status=RaterStatus(r["status"]),
                external_ref=r["external_ref"],
                invited_until=r["invited_until"],
                submitted_at=r["submitted_at"],
                ratings=ratings.get(r["rater_key"], []),
                rater_id=r["rater_employee_id"],
                sealed=r["comments_sealed"],
            )
            for r in raters
        ],
        calibrated_score=rows[0]["calibrated_score"] if rows else None,
        scorecard=await cycle_scorecard(info, cycle_id, reviewee_id),
    )


# -- the root fields -------------------------------------------------------------------------------


@strawberry.type
class ReviewQuery:
    @strawberry.field(
        description="Review cycles, by period and name (drafts only for hr, auditors, admins)."
    )
    async def review_cycles(
        self,
        info: Info,
        status: ReviewCycleStatusType | None = None,  # type: ignore[valid-type]
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> Connection[ReviewCycle]:
        _no_external(info)
        await _reach(info, min_position)
        return await review_cycle_page(
            info, None if status is None else CycleStatus(status), first, after
        )

    @strawberry.field
    async def review_cycle(
        self, info: Info, id: strawberry.ID, min_position: MinPosition = None
    ) -> ReviewCycle | None:
        _no_external(info)
        await _reach(info, min_position)
        try:
            return await _cycle(info, parse_id(id, "id"))
        except QueryError as error:
            if (error.extensions or {}).get("code") == "NOT_FOUND":
                return None
            raise

    @strawberry.field(description="Someone's appraisal in a cycle, if you may see it.")
    async def appraisal(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        employee_id: strawberry.ID,
        min_position: MinPosition = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> Appraisal | None:
        _no_external(info)
        await _reach(info, min_position)
        employee = parse_id(employee_id, "employeeId")
        info = await employee_view(info, employee, as_of, as_of_position)
        return remember(await appraisal(info, parse_id(cycle_id, "cycleId"), employee), info)

    @strawberry.field(description="The reviews you are to write (in one cycle, or in all).")
    async def my_review_assignments(
        self,
        info: Info,
        cycle_id: strawberry.ID | None = None,
        min_position: MinPosition = None,
    ) -> list[ReviewAssignment]:
        _no_external(info)
        await _reach(info, min_position)
        return await my_review_assignments(
            info, None if cycle_id is None else parse_id(cycle_id, "cycleId")
        )

    @strawberry.field(description="Your own review of someone: draft or submitted.")
    async def my_review(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        reviewee_id: strawberry.ID,
        min_position: MinPosition = None,
    ) -> OwnReview | None:
        _no_external(info)
        await _reach(info, min_position)
        return await my_review(
            info, parse_id(cycle_id, "cycleId"), parse_id(reviewee_id, "revieweeId")
        )

    @strawberry.field(
        description="Someone's result in a cycle, if you may see it: KPI and 360 scores, final "
        "score, tier, per-source aggregates, proposed and granted rewards."
    )
    async def cycle_scorecard(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        employee_id: strawberry.ID,
        min_position: MinPosition = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> CycleScorecard | None:
        _no_external(info)
        await _reach(info, min_position)
        employee = parse_id(employee_id, "employeeId")
        info = await employee_view(info, employee, as_of, as_of_position)
        return remember(await cycle_scorecard(info, parse_id(cycle_id, "cycleId"), employee), info)

    @strawberry.field(
        description="A department's results in a cycle (hr, auditors, admins; managers over "
        "the people below them)."
    )
    async def department_cycle_scorecard(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        department_id: strawberry.ID,
        include_sub_departments: bool = False,
        first: int = 50,
        after: str | None = None,
        min_position: MinPosition = None,
    ) -> DepartmentCycleScorecard:
        _no_external(info)
        await _reach(info, min_position)
        return await department_cycle_scorecard(
            info,
            parse_id(cycle_id, "cycleId"),
            parse_id(department_id, "departmentId"),
            include_sub_departments=include_sub_departments,
            first=first,
            after=after,
        )

    @strawberry.field(
        description="Who rates someone and how far each got (their managers, hr, auditors, "
        "admins; never the reviewee). No ratings: those are in reviewDetail, for hr."
    )
    async def appraisal_raters(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        reviewee_id: strawberry.ID,
        min_position: MinPosition = None,
    ) -> list[RaterAssignment]:
        _no_external(info)
        await _reach(info, min_position)
        return await appraisal_raters(
            info, parse_id(cycle_id, "cycleId"), parse_id(reviewee_id, "revieweeId")
        )

    @strawberry.field(
        description="Everything about an appraisal, raters by name (hr, auditors, admins)."
    )
    async def review_detail(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        reviewee_id: strawberry.ID,
        min_position: MinPosition = None,
    ) -> FullReviewDetail | None:
        _no_external(info)
        await _reach(info, min_position)
        return await review_detail(
            info, parse_id(cycle_id, "cycleId"), parse_id(reviewee_id, "revieweeId")
        )

    @strawberry.field(
        description="For a customer holding a review invitation (as bearer token): the form "
        "to fill in. Fails once the token was used, replaced or expired."
    )
    async def external_review_form(self, info: Info) -> ExternalReviewForm:
        return await external_review_form(info)
