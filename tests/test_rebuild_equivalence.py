"""Rebuilding every read model from the log gives the rows that incremental projection kept.

One seeded organisation (the demo reviews plan: cycles, calibration, feedback, rewards), then,
through the application's commands, every kind of event the seed never records, so the log holds
every domain event class of every aggregate. A test fails as soon as a new event class is added
without being recorded here, which keeps the equivalence check honest as the domain grows.
"""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

import domain
from domain.fairness_audits import FairnessAudit
from domain.feedback import Feedback
from domain.goals import Goal, GoalSet, OwnerKind
from domain.organisation import Department, Employee, OrgStructure
from domain.provenance import Provenance, Role
from domain.reviews import Appraisal, CycleDeadlines, RaterSource, ReviewCycle, rater_key
from domain.rewards import Money, Reward, RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES, RuleBook
from domain.trials import Trial, TrialRegistry
from projections.audit_chain import GENESIS, AuditChain
from projections.audit_chain import chain as chain_of
from service.application import Perfledger
from service.bootstrap import Services
from service.idempotency import ProcessedRequest
from service.seed import seed_organisation
from service.seed_reviews import cycle_id_for
from tests.helpers import catch_up, fetch, rebuild
from tests.review_builders import cycle_definition
from tests.test_seed import events_of, of

EMPLOYEES = 50
SEED = 11
THROUGH = date(2026, 8, 31)  # Q1 and Q2 closed, Q3 open: every review state is in the log
# One provenance for every command below; the reason is required by some of them.
HR = Provenance("hr-1", Role.HR, "test", "rebuild equivalence check")


# -- every event class ----------------------------------------------------------------------------


def aggregate_classes() -> list[type[Aggregate]]:
    """Every aggregate the service records: those of the domain package and the service's own
    (idempotency), found by walking Aggregate's subclasses after importing the domain."""
    for module in pkgutil.iter_modules(domain.__path__, "domain."):
        importlib.import_module(module.name)

    def walk(cls: type[Aggregate]) -> Iterator[type[Aggregate]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return sorted(
        {c for c in walk(Aggregate) if c.__module__.startswith(("domain.", "service."))},
        key=lambda c: c.__qualname__,
    )


def event_classes(aggregate: type[Aggregate]) -> set[type[CanMutateAggregate[Any]]]:
    """The event classes an aggregate can record: its nested event classes without the base
    ``Event``, and without the library's default ``Created`` where ``@event`` on ``__init__``
    names the creation event (``Created`` is then defined but never used)."""
    prefix = f"{aggregate.__qualname__}."
    nested = {
        value
        for value in (getattr(aggregate, name) for name in dir(aggregate))
        if isinstance(value, type)
        and issubclass(value, CanMutateAggregate)
        and value.__qualname__.startswith(prefix)
    }
    concrete = {c for c in nested if not any(o is not c and issubclass(o, c) for o in nested)}
    creations = {c for c in concrete if issubclass(c, CanInitAggregate)}
    unused = {c for c in creations if c.__name__ == "Created" and len(creations) > 1}
    return concrete - unused


def all_event_classes() -> dict[str, str]:
    """Topic -> readable name of every event class of every aggregate."""
    return {
        get_topic(cls): cls.__qualname__
        for aggregate in aggregate_classes()
        for cls in event_classes(aggregate)
    }


# -- the seeded organisation and the events it lacks ----------------------------------------------


def record_what_the_seed_does_not(app: Perfledger) -> None:
    """Record, through the application's commands, every kind of event the seed leaves out."""
    events = events_of(app)
    departments = of(events, Department, "Opened")
    root = next(d.originator_id for d in departments if d.parent_id is None)
    parents = {d.parent_id for d in departments}
    hired = of(events, Employee, "Hired")
    managers = {e.manager_id for e in hired if e.manager_id is not None}
    staff = [e for e in hired if e.manager_id is not None and e.originator_id not in managers]
    mover, relabelled, leaver = staff[0], staff[1], staff[2]

    # Organisation: a leaf department renamed and moved (which starts the org structure), and
    # people transferred, reporting to someone else, relabelled and leaving.
    leaf = next(
        d for d in departments if d.parent_id is not None and d.originator_id not in parents
    )
    new_parent = next(
        d.originator_id
        for d in departments
        if d.originator_id not in (leaf.originator_id, leaf.parent_id)
    )
    app.rename_department(HR, leaf.originator_id, f"{leaf.name} (renamed)")
    app.move_department(HR, leaf.originator_id, new_parent)
    app.transfer_employee(
        HR,
        mover.originator_id,
        next(d.originator_id for d in departments if d.originator_id != mover.department_id),
        date(2026, 9, 1),
    )
    app.change_manager(
        HR, mover.originator_id, next(m for m in sorted(managers) if m != mover.manager_id)
    )
    app.set_employee_attributes(HR, relabelled.originator_id, {"gender": "x", "site": "remote"})
    app.record_leaving(HR, leaver.originator_id, date(2026, 9, 15))

    # Goals: a target revised, one goal closed and another abandoned (withdrawn from its set);
    # progress sent twice under one idempotency key records it once.
    goals = [g for g in of(events, Goal, "Set") if g.owner_kind is OwnerKind.EMPLOYEE]
    revised, closed, abandoned, measured = goals[0], goals[1], goals[2], goals[3]
    spec = revised.spec
    app.revise_target(HR, revised.originator_id, spec.target + (spec.target - spec.baseline))
    app.close_goal(HR, closed.originator_id)
    app.abandon_goal(HR, abandoned.originator_id)
    for _ in range(2):
        app.record_progress(
            HR,
            measured.originator_id,
            measured.spec.target,
            measured.spec.due_date,
            "import",
            idempotency_key="august-import",
        )

    # Rules: a second version, adopted from the third quarter on.
    version = app.define_rule_set(
        HR, replace(DEFAULT_RULES, achievement_cap=Decimal(110)), "Tighter cap"
    ).version
    assert version is not None
    app.adopt_rule_set(HR, version, date(2026, 7, 1))

    # Reviews: a fourth-quarter cycle redefined and its deadlines moved while in draft, opened,
    # and a peer assigned then removed.
    cycle_id = UUID(int=SEED)
    draft = cycle_definition(
        root,
        name="Q4 2026 review",
        period="2026-Q4",
        deadlines=CycleDeadlines(date(2026, 12, 11), date(2026, 12, 22)),
    )
    app.draft_review_cycle(HR, cycle_id=cycle_id, definition=draft)
    app.redefine_review_cycle(HR, cycle_id, replace(draft, min_peer_raters=2))
    app.change_cycle_deadlines(HR, cycle_id, CycleDeadlines(date(2026, 12, 18), date(2026, 12, 30)))
    reviewees = [e.originator_id for e in hired if e.manager_id is not None and e is not leaver]
    app.open_review_cycle(HR, cycle_id, reviewees, date(2026, 10, 1))
    reviewee, peer = reviewees[0], reviewees[1]
    app.assign_peer_rater(HR, cycle_id, reviewee, peer)
    app.unassign_rater(HR, cycle_id, reviewee, rater_key(RaterSource.PEER, peer))

    # A fairness audit that was run, as recorded (tests/test_fairness_service.py runs real ones).
    app.record_fairness_audit(
        HR,
        audit_id=UUID(int=SEED + 1),
        cycle_id=cycle_id,
        position=app.recorder.max_notification_id() or 1,
        method_version="perfledger-fairness/1",
        parameters={"group_by": ["department"], "seed": 1},
        digest="0" * 64,
        fingerprints={"department": {"SALES": [12, "ab" * 32]}},
        flags=0,
        earlier=[],
    )

    # Trials: one revised, given feedback and a provisional reward, then rolled back (which
    # revokes the reward); another given a provisional reward and promoted for its scope (which
    # confirms it). Both pilot a version production does not use in the fourth quarter, each on
    # one named employee.
    pilot = app.define_rule_set(
        HR, replace(DEFAULT_RULES, achievement_cap=Decimal(130)), "Pilot: a higher cap"
    ).version
    improved = app.define_rule_set(
        HR, replace(DEFAULT_RULES, achievement_cap=Decimal(125)), "Pilot, improved after feedback"
    ).version
    assert pilot is not None
    assert improved is not None
    participant, other = staff[3].originator_id, staff[4].originator_id
    rolled_back, promoted = UUID(int=SEED + 2), UUID(int=SEED + 3)
    for trial_id, name, person in (
        (rolled_back, "Cap pilot", participant),
        (promoted, "Cap pilot, second site", other),
    ):
        app.start_trial(
            HR,
            trial_id=trial_id,
            name=name,
            rule_set_version=pilot,
            scope_departments=[],
            scope_employees=[person],
            members=[],
            period="2026-Q4",
            responsible=["hr-1"],
            show_participants=True,
            today=date(2026, 10, 1),
        )
    app.revise_trial(HR, rolled_back, improved)
    app.give_trial_feedback(
        Provenance(str(participant), Role.EMPLOYEE, "test"),
        trial_id=rolled_back,
        employee_id=participant,
        text="The higher cap rewards my stretch goals",
        today=date(2026, 10, 2),
    )
    app.grant_provisional_reward(
        HR,
        trial_id=rolled_back,
        reward_id=UUID(int=SEED + 4),
        employee_id=participant,
        spec=RewardSpec(RewardKind.BONUS, amount=Money(Decimal(300), "EUR")),
        reference_salary=None,
        today=date(2026, 10, 2),
    )
    app.roll_back_trial(HR, rolled_back, date(2026, 10, 5))
    app.grant_provisional_reward(
        HR,
        trial_id=promoted,
        reward_id=UUID(int=SEED + 5),
        employee_id=other,
        spec=RewardSpec(RewardKind.EXTRA_LEAVE, days=Decimal(1)),
        reference_salary=None,
        today=date(2026, 10, 3),
    )
    app.promote_trial(HR, promoted, date(2027, 1, 1), for_everyone=False)


def record_late_progress(app: Perfledger) -> None:
    """A correction to a third-quarter goal after its cycle closed."""
    goal = next(
        g
        for g in of(events_of(app), Goal, "Set")
        if g.owner_kind is OwnerKind.EMPLOYEE and g.spec.period == "2026-Q3"
    )
    app.record_progress(HR, goal.originator_id, goal.spec.baseline, date(2026, 8, 31), "fix")


def topics_in_log(app: Perfledger) -> set[str]:
    return {n.topic for n in app.recorder.select_notifications(1, 10_000_000)}


def test_the_seed_and_the_commands_here_record_every_event_class(app: Perfledger) -> None:
    seed_organisation(app, employees=EMPLOYEES, seed=SEED, through=THROUGH)
    record_what_the_seed_does_not(app)
    every, recorded = all_event_classes(), topics_in_log(app)
    missing = sorted(name for topic, name in every.items() if topic not in recorded)
    # A new event class fails here until record_what_the_seed_does_not records it too.
    assert missing == []
    # The walk found every aggregate (and so their events), not a convenient subset.
    assert {
        Department,
        Employee,
        OrgStructure,
        Goal,
        GoalSet,
        RuleBook,
        ReviewCycle,
        Appraisal,
        Feedback,
        Reward,
        FairnessAudit,
        Trial,
        TrialRegistry,
        ProcessedRequest,
    } <= set(aggregate_classes())


# -- incremental and rebuilt read models ----------------------------------------------------------


def comparable(services: Services, value: object) -> object:
    """A column value as it compares across rebuilds: sealed text opened (sealing draws a fresh
    nonce, so equal text seals to different bytes), also where JSON carries it in base64."""
    if isinstance(value, bytes):
        return services.secrets.open(value)
    if isinstance(value, str) and value[:1] in ("{", "["):
        return opened_json(services, json.loads(value))
    return value


def opened_json(services: Services, value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: services.secrets.open(base64.b64decode(item))
            if key.endswith("_sealed_b64") and item is not None
            else opened_json(services, item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [opened_json(services, item) for item in value]
    return value


async def dump(services: Services) -> dict[str, list[tuple[object, ...]]]:
    """Every read-model row, its values comparable, in a total order."""
    dumped: dict[str, list[tuple[object, ...]]] = {}
    for table in services.projector.tables:
        rows = await fetch(services, f"SELECT * FROM {table}")
        dumped[table] = sorted(
            (tuple(comparable(services, v) for v in row) for row in rows), key=repr
        )
    return dumped


class Reader(Protocol):
    read_notifications: Callable[[int, int], Sequence[Any]]


@contextmanager
def stopping_at(reader: Reader, horizon: int) -> Iterator[None]:
    """Let ``reader`` see the log up to ``horizon`` only, as if nothing later were recorded."""
    read = reader.read_notifications
    reader.read_notifications = lambda after, limit: [
        n for n in read(after, limit) if n.id <= horizon
    ]
    try:
        yield
    finally:
        reader.read_notifications = read


async def chain_up(services: Services) -> AuditChain:
    chain = services.audit_chain
    assert chain is not None
    conn = await services.connect()
    try:
        await chain.catch_up(conn)
    finally:
        await conn.close()
    return chain


def differences(
    incremental: dict[str, list[tuple[object, ...]]], rebuilt: dict[str, list[tuple[object, ...]]]
) -> dict[str, tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
    """Per table, rows only the incremental side has and rows only the rebuild has."""
    out = {}
    for table in incremental:
        before, after = incremental[table], rebuilt[table]
        only_before = [r for r in before if r not in after]
        only_after = [r for r in after if r not in before]
        if only_before or only_after:
            out[table] = (only_before[:3], only_after[:3])
    return out


async def test_read_models_rebuilt_in_one_go_equal_those_kept_batch_by_batch(
    services: Services,
) -> None:
    app = services.app
    await services.call(seed_organisation, app, employees=EMPLOYEES, seed=SEED, through=THROUGH)
    seeded = app.recorder.max_notification_id() or 0
    # Small batches split the log at arbitrary events; a restart (memory dropped, reloaded from
    # the tables) a third and two thirds of the way through the seed, and again after each round
    # of commands.
    services.runner.batch_size = 97
    for horizon in (seeded // 3, 2 * seeded // 3, seeded):
        with stopping_at(services.runner, horizon):
            await catch_up(services)
        assert services.projector.position == horizon
        services.projector.forget()
    await services.call(record_what_the_seed_does_not, app)
    await catch_up(services)
    services.projector.forget()
    # The open third-quarter cycle calibrated and closed, then progress recorded late.
    q3 = cycle_id_for(SEED, "2026-Q3")
    await services.call(app.start_calibration, HR, q3)
    await services.call(app.close_review_cycle, HR, q3)
    await services.call(record_late_progress, app)
    await catch_up(services)
    incremental = await dump(services)

    services.runner.batch_size = 100_000
    await rebuild(services)
    rebuilt = await dump(services)
    assert differences(incremental, rebuilt) == {}
    assert rebuilt == incremental
    assert all(incremental[table] for table in ("appraisals", "review_ratings", "audit_trail"))


async def test_the_audit_chain_built_batch_by_batch_equals_one_computed_over_the_whole_log(
    services: Services,
) -> None:
    app = services.app
    await services.call(seed_organisation, app, employees=EMPLOYEES, seed=SEED, through=THROUGH)
    seeded = app.recorder.max_notification_id() or 0
    chain = services.audit_chain
    assert chain is not None
    chain.batch_size, chain.checkpoint_every = 97, 250
    for horizon in (seeded // 3, seeded):
        with stopping_at(chain, horizon):
            await chain_up(services)
        assert chain.position == horizon
        chain.forget()  # a restarted builder: it reloads its place from the tables
    await services.call(record_what_the_seed_does_not, app)
    await chain_up(services)

    log = app.recorder.select_notifications(1, 10_000_000)
    expected = [entry.record() for entry in chain_of(GENESIS, log)]
    stored = await fetch(services, "SELECT * FROM audit_chain ORDER BY position")
    assert [tuple(bytes(v) if isinstance(v, bytes) else v for v in r) for r in stored] == expected
    entries = {record[0]: (i + 1, record[5]) for i, record in enumerate(expected)}
    checkpoints = await fetch(services, "SELECT position, entries, hash FROM audit_checkpoints")
    assert checkpoints, "the log is long enough for several checkpoints"
    for checkpoint in checkpoints:
        assert entries[checkpoint["position"]] == (checkpoint["entries"], checkpoint["hash"])
    every_250th = {p for p, (count, _) in entries.items() if count % 250 == 0}
    assert every_250th <= {c["position"] for c in checkpoints}
