"""The trials read model: a trial's state, versions and transitions with their log positions,
its participants (newcomers to a scope department included, while it runs), its provisional
rewards' fate, and participants' feedback sealed at rest; rebuilt from the log, the same rows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.provenance import Role
from domain.rewards import Money, RewardKind, RewardSpec
from domain.rules import DEFAULT_RULES
from projections.projector import Projector
from service.application import Perfledger, department_id_for, employee_id_for
from service.bootstrap import Services
from tests.helpers import HR, Org, as_role, catch_up, fetch, position, rebuild, small_org

TODAY = date(2026, 7, 1)
BONUS = RewardSpec(RewardKind.BONUS, amount=Money(Decimal("300.00"), "EUR"))
TABLES = ("trials", "trial_participants", "trial_rewards", "trial_feedback")


def hire(app: Perfledger, org: Org, code: str, department: UUID) -> UUID:
    app.hire_employee(
        HR,
        code=code,
        name=f"New {code}",
        department_id=department,
        manager_id=org.boss,
        job_title="Account manager",
        hire_date=TODAY,
        attributes={},
    )
    return employee_id_for(code)


def start(app: Perfledger, trial_id: UUID, version: int, **scope: Any) -> int:
    """Start a pilot for 2026; the position of its Started event (the first the command
    records, before the registry's)."""
    before = position(app)
    app.start_trial(
        HR.because("try a higher cap"),
        trial_id=trial_id,
        name=f"Pilot {trial_id.int % 1000}",
        rule_set_version=version,
        period="2026",
        responsible=["hr-1", "head of sales"],
        show_participants=True,
        today=TODAY,
        **{"scope_departments": [], "scope_employees": [], "members": [], **scope},
    )
    return before + 1


async def one(services: Services, query: str, *args: object) -> Any:
    rows = await fetch(services, query, *args)
    assert len(rows) == 1, rows
    return rows[0]


async def dump(services: Services) -> dict[str, list[tuple[object, ...]]]:
    """The trial tables' rows, sealed text opened (sealing draws a fresh nonce)."""
    opened = services.secrets.open
    return {
        table: sorted(
            (
                tuple(opened(v) if isinstance(v, bytes) else v for v in r)
                for r in await fetch(services, f"SELECT * FROM {table}")
            ),
            key=repr,
        )
        for table in TABLES
    }


async def test_a_trial_read_from_its_read_model_from_start_to_rollback_and_a_promotion(
    services: Services,
) -> None:
    app = services.app
    org = small_org(app)
    app.open_department(HR, code="KEY", name="Key accounts", parent_id=org.sales)
    key_accounts = department_id_for("KEY")
    pilot = app.define_rule_set(HR, replace(DEFAULT_RULES, achievement_cap=Decimal(150)), "pilot")
    better = app.define_rule_set(HR, replace(DEFAULT_RULES, achievement_cap=Decimal(130)), "b")
    assert pilot.version is not None
    assert better.version is not None
    trial_id = uuid4()
    started = start(
        app,
        trial_id,
        pilot.version,
        scope_departments=[org.sales],
        members=[org.boss, org.alice, org.bob],
    )
    app.revise_trial(HR.because("after feedback"), trial_id, better.version)
    revised = position(app)
    said = "The higher cap finally rewards my stretch goals"
    alice = as_role(Role.EMPLOYEE, org.alice)
    app.give_trial_feedback(alice, trial_id=trial_id, employee_id=org.alice, text=said, today=TODAY)
    told = position(app)
    kept, dropped = uuid4(), uuid4()
    for reward_id in (kept, dropped):
        app.grant_provisional_reward(
            HR.because("top of the pilot's ranking"),
            trial_id=trial_id,
            reward_id=reward_id,
            employee_id=org.bob,
            spec=BONUS,
            reference_salary=None,
            today=TODAY,
        )
    app.revoke_reward(HR.because("granted twice"), dropped, TODAY)
    revoked_alone = position(app)
    # Someone joining a department under the scope takes part from then on.
    newcomer = hire(app, org, "E10", key_accounts)
    joined = position(app)
    # So does someone whose department moves under the scope; hired outside it, they did not.
    app.open_department(HR, code="OPS", name="Operations", parent_id=None)
    operations = department_id_for("OPS")
    mover = hire(app, org, "E12", operations)
    moved = position(app) + 1  # the department's event, then the org structure's
    app.move_department(HR, operations, key_accounts)
    await catch_up(services)

    trial = await one(services, "SELECT * FROM trials WHERE id = $1", trial_id)
    assert trial["status"] == "running"
    assert trial["rule_set_version"] == better.version
    assert [
        (t["event"], t["position"], t["ruleSetVersion"], t["reason"])
        for t in _json(trial["transitions"])
    ] == [
        ("started", started, pilot.version, "try a higher cap"),
        ("revised", revised, better.version, "after feedback"),
    ]
    assert trial["started_position"] == started
    assert trial["participant_count"] == 5
    assert trial["feedback_count"] == 1
    assert trial["ended_position"] is None
    participants = {
        r["employee_id"]: (r["since_position"], r["joined"])
        for r in await fetch(
            services, "SELECT * FROM trial_participants WHERE trial_id = $1", trial_id
        )
    }
    assert participants == {
        org.boss: (started, False),
        org.alice: (started, False),
        org.bob: (started, False),
        newcomer: (joined, True),
        mover: (moved, True),
    }
    feedback = await one(services, "SELECT * FROM trial_feedback WHERE trial_id = $1", trial_id)
    assert (feedback["employee_id"], feedback["position"]) == (org.alice, told)
    # Sealed at rest: the text is not in the stored bytes, and the key opens it.
    assert said.encode() not in feedback["body_sealed"]
    assert services.secrets.open(feedback["body_sealed"]) == said
    rewards = await _rewards(services, trial_id)
    assert rewards[kept][0] == "provisional"
    assert rewards[dropped][0:2] == ("revoked", revoked_alone)

    rolled_back = position(app) + 1  # the trial's event comes first, then the revocations
    app.roll_back_trial(HR.because("did not convince"), trial_id, TODAY)
    late = hire(app, org, "E11", key_accounts)  # after the end: nobody joins an ended trial
    await catch_up(services)
    trial = await one(services, "SELECT * FROM trials WHERE id = $1", trial_id)
    assert trial["status"] == "rolled_back"
    assert (trial["ended_position"], trial["ended_on"], trial["end_reason"]) == (
        rolled_back,
        TODAY,
        "did not convince",
    )
    assert _json(trial["transitions"])[-1]["event"] == "rolled_back"
    rewards = await _rewards(services, trial_id)
    assert rewards[kept][0:2] == ("revoked", rolled_back)
    assert rewards[dropped][0:2] == ("revoked", revoked_alone)  # revoked before, it stays so
    assert late not in {
        r["employee_id"]
        for r in await fetch(services, "SELECT employee_id FROM trial_participants")
    }

    # A second pilot on Alice alone, promoted for its scope: its reward is confirmed.
    second = uuid4()
    start(app, second, pilot.version, scope_employees=[org.alice])
    app.grant_provisional_reward(
        HR.because("the pilot's best"),
        trial_id=second,
        reward_id=(confirmed := uuid4()),
        employee_id=org.alice,
        spec=BONUS,
        reference_salary=None,
        today=TODAY,
    )
    promoted = position(app) + 1
    app.promote_trial(HR.because("fairer"), second, date(2027, 1, 1), False)
    await catch_up(services)
    row = await one(services, "SELECT * FROM trials WHERE id = $1", second)
    assert (row["status"], row["effective_from"], row["for_everyone"]) == (
        "promoted",
        date(2027, 1, 1),
        False,
    )
    assert row["ended_position"] == promoted
    assert (await _rewards(services, second))[confirmed][0] == "confirmed"

    # Kept batch by batch or rebuilt in one go from the log: the same rows.
    kept_rows = await dump(services)
    assert all(kept_rows[table] for table in TABLES)
    await rebuild(services)
    assert await dump(services) == kept_rows


async def test_feedback_text_is_not_kept_without_the_key(services: Services) -> None:
    """A projector built without the service's key stores no feedback text at all (never in the
    clear)."""
    app = services.app
    org = small_org(app)
    pilot = app.define_rule_set(HR, replace(DEFAULT_RULES, achievement_cap=Decimal(150)), "pilot")
    assert pilot.version is not None
    trial_id = uuid4()
    start(app, trial_id, pilot.version, scope_employees=[org.alice])
    alice = as_role(Role.EMPLOYEE, org.alice)
    app.give_trial_feedback(alice, trial_id=trial_id, employee_id=org.alice, text="hm", today=TODAY)
    keyless = Projector()
    keyless.position = 0
    events = [
        (n.id, app.mapper.to_domain_event(n))
        for n in app.recorder.select_notifications(1, 10_000)
        if keyless.wants(n.topic)
    ]
    keyless.apply(events)
    assert [f[-1] for f in keyless.trials.new_feedback] == [None]


def _json(value: str) -> Any:
    return json.loads(value)


async def _rewards(services: Services, trial_id: UUID) -> dict[UUID, tuple[str, int, int]]:
    return {
        r["reward_id"]: (r["state"], r["state_position"], r["linked_position"])
        for r in await fetch(services, "SELECT * FROM trial_rewards WHERE trial_id = $1", trial_id)
    }
