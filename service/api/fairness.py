"""Fairness audits over GraphQL (hr, auditors and admins only).

``fairnessAudit`` computes a cycle's audit, live or as of a moment, without recording it (to look
before running); ``runFairnessAudit`` computes and records it (the event holds the position, the
method's version, the parameters and seed, and the report's digest); ``rerunFairnessAudit``
computes a recorded audit again and says whether the report is the same; ``fairnessAudits`` lists
what was recorded for a cycle. Every answer carries the typed flags with their evidence, the
reliability and group tables, and the whole canonical report as JSON (the digest is its sha256).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import strawberry

from domain.errors import DomainError
from domain.fairness.audit import AuditParameters
from domain.fairness.report import Flag, FlagEvidence, flags, report_json
from domain.provenance import Role
from service import fairness
from service.api.as_of import AsOf, AsOfPosition, optional_position
from service.api.errors import QueryError, answered, forbidden
from service.api.queries import parse_id
from service.api.types import Info

AUDIT_ROLES = frozenset({Role.HR, Role.AUDITOR, Role.ADMIN})


def require_auditor(info: Info) -> None:
    if info.context.external is not None or info.context.viewer.role not in AUDIT_ROLES:
        raise forbidden("fairness audits (hr, auditors and admins only)")


@strawberry.input(description="How to run the audit; unset fields take the method's defaults.")
class FairnessParametersInput:
    seed: int = strawberry.field(
        default=1, description="Seeds the permutation tests: same seed, same numbers."
    )
    intersections: list[list[str]] | None = None
    outcomes: list[str] | None = strawberry.field(
        default=None,
        description="Selections to test (tier:A, reward:bonus, ...); default: all present.",
    )
    adjust_for_severity: bool = True
    permutations: int | None = None
    min_group_size: int | None = None
    min_intersection_size: int | None = None
    min_ratees: int | None = strawberry.field(
        default=None, description="Ratees a rater needs before they can be flagged (5)."
    )
    min_practical_effect: float | None = strawberry.field(
        default=None, description="Scale points a rater's leniency must reach to be flagged (0.5)."
    )
    alpha: float | None = None
    flag_alpha: float | None = None
    small_groups: str | None = strawberry.field(
        default=None,
        description="exclude (default): people of groups below the minimum size are left out "
        "of the comparison; suppress: they stay in it, their group shows no numbers, and "
        "complementary suppression hides what would give them away.",
    )


def parameters_from(group_by: list[str], given: FairnessParametersInput | None) -> AuditParameters:
    given = given or FairnessParametersInput()
    data: dict[str, Any] = {
        "group_by": group_by,
        "seed": given.seed,
        "intersections": given.intersections or [],
        "outcomes": given.outcomes,
        "adjust_for_severity": given.adjust_for_severity,
    }
    if given.flag_alpha is not None:
        data["flag_alpha"] = given.flag_alpha
    rater: dict[str, Any] = {}
    if given.min_ratees is not None:
        rater["min_ratees"] = given.min_ratees
    if given.min_practical_effect is not None:
        rater["min_practical_effect"] = given.min_practical_effect
    if given.alpha is not None:
        rater["alpha"] = given.alpha
    groups: dict[str, Any] = {}
    for name in (
        "permutations",
        "min_group_size",
        "min_intersection_size",
        "alpha",
        "small_groups",
    ):
        value = getattr(given, name)
        if value is not None:
            groups[name] = value
    data["rater_effects"], data["disparities"] = rater, groups
    try:
        return AuditParameters.from_json(data)
    except DomainError as error:
        raise QueryError(error.code, f"parameters: {error.message}") from None


@strawberry.type(description="A threshold a finding was held against.")
class Threshold:
    name: str
    value: str


@strawberry.type(description="The numbers behind a finding, before or after calibration.")
class Evidence:
    n: int
    effect: float | None = strawberry.field(description="What the practical threshold applies to.")
    difference: float | None
    p: float | None
    p_adjusted: float | None
    tested: int = strawberry.field(description="Size of the family the correction covered.")
    gate_p: float | None = strawberry.field(
        description="For a group finding: the p-value held against the audit-wide level."
    )

    @classmethod
    def of(cls, evidence: FlagEvidence | None) -> Evidence | None:
        if evidence is None:
            return None
        return cls(
            n=evidence.n,
            effect=evidence.effect,
            difference=evidence.difference,
            p=evidence.p,
            p_adjusted=evidence.p_adjusted,
            tested=evidence.n_tested,
            gate_p=evidence.gate_p,
        )


@strawberry.type(description="One flagged finding with its evidence.")
class FairnessFlag:
    kind: str = strawberry.field(
        description="lenient, severe, central tendency, halo, score disparity, rating "
        "disparity, adjusted rating disparity or selection disparity."
    )
    subject: str = strawberry.field(description="The rater's id, or the group's label.")
    attribute: str = strawberry.field(description="The rater's source, or the grouping.")
    outcome: str | None
    holds: str = strawberry.field(description="pre, post or both (calibration).")
    effect_measure: str
    thresholds: list[Threshold]
    pre: Evidence | None
    post: Evidence | None

    @classmethod
    def of(cls, flag: Flag) -> FairnessFlag:
        return cls(
            kind=flag.kind,
            subject=flag.subject,
            attribute=flag.attribute,
            outcome=flag.outcome,
            holds=flag.holds,
            effect_measure=flag.effect_measure,
            thresholds=[Threshold(name=k, value=str(v)) for k, v in flag.thresholds.items()],
            pre=Evidence.of(flag.pre),
            post=Evidence.of(flag.post),
        )


@strawberry.type(description="A group's score and rating means, or why it is not shown.")
class GroupDisparity:
    label: str
    suppressed: str | None = strawberry.field(
        description="Why the group shows no numbers (small group, complementary, differencing)."
    )
    n: int | None
    mean_score: float | None
    difference: float | None = strawberry.field(description="Mean score minus the rest's.")
    hedges_g: float | None
    p: float | None
    p_adjusted: float | None


@strawberry.type(description="One grouping (an attribute or an intersection) of the audit.")
class Grouping:
    name: str
    people: int
    excluded_unknown: int = strawberry.field(
        description="Left out: an unknown value, or (smallGroups exclude) a group too small."
    )
    min_size: int
    insufficient: str | None
    groups: list[GroupDisparity]


@strawberry.type(description="Agreement among one rater source's raters.")
class SourceAgreement:
    source: str
    ratings: int
    icc1: float | None
    icc1k: float | None
    alpha_interval: float | None
    rwg_mean: float | None
    insufficient: str | None = strawberry.field(
        description="Why a figure is missing, where one is."
    )


@strawberry.type(description="A fairness audit's report.")
class FairnessAuditReport:
    audit_id: strawberry.ID | None = strawberry.field(description="Null: computed, not recorded.")
    cycle_id: strawberry.ID
    position: int = strawberry.field(description="The log position the audit is as of.")
    method_version: str
    digest: str = strawberry.field(description="sha256 of reportJson (sorted keys, compact).")
    recorded_digest: str | None = strawberry.field(
        description="A re-run: the digest recorded when the audit was first run."
    )
    reproduced: bool | None = strawberry.field(
        description="A re-run: whether it gave the very same report."
    )
    attributes: list[str] = strawberry.field(description="The group attributes one may use.")
    flags: list[FairnessFlag]
    reliability: list[SourceAgreement] = strawberry.field(description="After calibration.")
    groupings: list[Grouping]
    report_json: str = strawberry.field(description="The whole canonical report, as JSON.")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _reliability(canonical: dict[str, Any]) -> list[SourceAgreement]:
    found = []
    for source, figures in canonical["ratings"]["post"]["reliability"].items():
        if "insufficient" in figures:
            found.append(
                SourceAgreement(
                    source=source,
                    ratings=0,
                    icc1=None,
                    icc1k=None,
                    alpha_interval=None,
                    rwg_mean=None,
                    insufficient=figures["insufficient"],
                )
            )
            continue
        icc, alpha, rwg = figures.get("icc", {}), figures.get("alpha", {}), figures.get("rwg", {})
        reasons = [part["insufficient"] for part in (icc, alpha, rwg) if "insufficient" in part]
        found.append(
            SourceAgreement(
                source=source,
                ratings=int(figures.get("ratings", 0)),
                icc1=_number(icc.get("icc1")),
                icc1k=_number(icc.get("icc1k")),
                alpha_interval=_number(alpha.get("alpha")),
                rwg_mean=_number(rwg.get("mean")),
                insufficient="; ".join(reasons) or None,
            )
        )
    return found


def _groupings(canonical: dict[str, Any]) -> list[Grouping]:
    found = []
    for grouping in canonical["disparities"]:
        score = grouping["score"]
        insufficient = score.get("insufficient") if isinstance(score, dict) else None
        groups = [
            GroupDisparity(
                label=g["label"],
                suppressed=None,
                n=g["n"],
                mean_score=_number(g.get("mean")),
                difference=_number(g.get("difference")),
                hedges_g=_number(g.get("hedges_g")),
                p=_number(g.get("p_value")),
                p_adjusted=_number(g.get("p_adjusted")),
            )
            for g in (score.get("groups", []) if isinstance(score, dict) else [])
        ]
        groups += [
            GroupDisparity(
                label=cell["label"],
                suppressed=cell.get("reason") or "suppressed",
                n=None,
                mean_score=None,
                difference=None,
                hedges_g=None,
                p=None,
                p_adjusted=None,
            )
            for cell in (score.get("suppressed", []) if isinstance(score, dict) else [])
        ]
        found.append(
            Grouping(
                name=grouping["grouping"],
                people=grouping["people"],
                excluded_unknown=grouping["excluded_unknown"],
                min_size=grouping["min_size"],
                insufficient=insufficient,
                groups=groups,
            )
        )
    return found


def report_of(run: fairness.AuditRun) -> FairnessAuditReport:
    canonical = report_json(run.report)
    return FairnessAuditReport(
        audit_id=None if run.audit_id is None else strawberry.ID(str(run.audit_id)),
        cycle_id=strawberry.ID(str(run.cycle_id)),
        position=run.position,
        method_version=run.report.method_version,
        digest=run.digest,
        recorded_digest=run.recorded_digest,
        reproduced=run.reproduced,
        attributes=list(run.attributes),
        flags=[FairnessFlag.of(f) for f in flags(run.report)],
        reliability=_reliability(canonical),
        groupings=_groupings(canonical),
        report_json=json.dumps(canonical, separators=(",", ":")),
    )


@strawberry.type(description="A recorded fairness audit.")
class RecordedFairnessAudit:
    id: strawberry.ID
    cycle_id: strawberry.ID
    position: int
    method_version: str
    parameters_json: str
    digest: str
    flags: int
    recorded_at: datetime
    recorded_by: str


@strawberry.type
class FairnessQuery:
    @strawberry.field(
        description="A review cycle's fairness audit (rater effects, reliability, group "
        "disparities), live or as of a moment, computed without recording it."
    )
    async def fairness_audit(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        group_by: list[str],
        parameters: FairnessParametersInput | None = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> FairnessAuditReport:
        require_auditor(info)
        chosen = parameters_from(group_by, parameters)
        position = await optional_position(info.context, as_of, as_of_position)
        run = await answered(
            fairness.compute(info.context.services, parse_id(cycle_id, "cycleId"), chosen, position)
        )
        return report_of(run)

    @strawberry.field(
        description="Run a recorded audit again, from what it recorded, and say whether the "
        "report is the same."
    )
    async def rerun_fairness_audit(
        self, info: Info, audit_id: strawberry.ID
    ) -> FairnessAuditReport:
        require_auditor(info)
        run = await answered(fairness.rerun(info.context.services, parse_id(audit_id, "auditId")))
        return report_of(run)

    @strawberry.field(description="The fairness audits recorded for a cycle, oldest first.")
    async def fairness_audits(
        self, info: Info, cycle_id: strawberry.ID
    ) -> list[RecordedFairnessAudit]:
        require_auditor(info)
        async with info.context.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM fairness_audits WHERE cycle_id = $1 ORDER BY position",
                parse_id(cycle_id, "cycleId"),
            )
        return [
            RecordedFairnessAudit(
                id=strawberry.ID(str(r["id"])),
                cycle_id=strawberry.ID(str(r["cycle_id"])),
                position=r["as_of_position"],
                method_version=r["method_version"],
                parameters_json=r["parameters"],
                digest=r["digest"],
                flags=r["flags"],
                recorded_at=r["recorded_at"],
                recorded_by=r["recorded_by"],
            )
            for r in rows
        ]


@strawberry.type
class FairnessMutation:
    @strawberry.mutation(
        description="Run a review cycle's fairness audit and record that it was run: the event "
        "holds the position, the method's version, the parameters and seed, and the report's "
        "digest, so that anyone can run it again (rerunFairnessAudit) and get the same numbers."
    )
    async def run_fairness_audit(
        self,
        info: Info,
        cycle_id: strawberry.ID,
        group_by: list[str],
        parameters: FairnessParametersInput | None = None,
        as_of: AsOf = None,
        as_of_position: AsOfPosition = None,
    ) -> FairnessAuditReport:
        require_auditor(info)
        chosen = parameters_from(group_by, parameters)
        position = await optional_position(info.context, as_of, as_of_position)
        run = await answered(
            fairness.run_and_record(
                info.context.services,
                info.context.provenance("fairness audit"),
                parse_id(cycle_id, "cycleId"),
                chosen,
                position,
            )
        )
        # Read your writes: the audit is listed, and can be re-run, once this returns.
        await info.context.reach(run.recorded_at_position)
        return report_of(run)
