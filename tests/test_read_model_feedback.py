"""The feedback read model: rows with sealed bodies, monthly counts, acknowledgements in the same
or a later batch, the scorecards' counts accessor, and a rebuild that gives the same rows."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from domain.feedback import FeedbackKind, FeedbackVisibility
from domain.provenance import Role
from projections.projector import Projector
from service.application import Perfledger
from service.bootstrap import Services, build_runner
from tests.helpers import Org, as_role, catch_up, fetch, rebuild, small_org

TODAY = date(2026, 3, 31)
SECRET = "Alice's numbers slipped after the merger; let's talk about workload."


def give(
    app: Perfledger,
    giver: UUID,
    receiver: UUID,
    kind: FeedbackKind,
    occurred_on: date,
    body: str = "Thanks for covering the Lyon account.",
) -> UUID:
    feedback_id = uuid4()
    app.give_feedback(
        as_role(Role.EMPLOYEE, giver),
        feedback_id=feedback_id,
        giver_id=giver,
        receiver_id=receiver,
        kind=kind,
        visibility=FeedbackVisibility.PRIVATE,
        body=body,
        goal_id=None,
        occurred_on=occurred_on,
        today=TODAY,
    )
    return feedback_id


async def test_the_body_is_stored_sealed_and_opens_with_the_services_key(
    services: Services,
) -> None:
    org: Org = await services.call(small_org, services.app)
    feedback_id = await services.call(
        give, services.app, org.boss, org.alice, FeedbackKind.IMPROVEMENT, date(2026, 3, 2), SECRET
    )
    await catch_up(services)
    (row,) = await fetch(services, "SELECT * FROM feedback WHERE id = $1", feedback_id)
    assert (row["giver_id"], row["receiver_id"]) == (org.boss, org.alice)
    assert row["kind"] == "improvement"
    assert row["visibility"] == "private"
    assert row["occurred_on"] == date(2026, 3, 2)
    assert row["acknowledged_on"] is None
    assert SECRET.encode() not in row["body_sealed"]
    assert services.secrets.open(row["body_sealed"]) == SECRET
    # Nowhere in the table's text either (a dump shows rows like this).
    texts = await fetch(services, "SELECT f::text AS t FROM feedback f")
    assert all("merger" not in r["t"] for r in texts)


async def test_counts_by_month_and_kind_for_receiver_and_giver(services: Services) -> None:
    app = services.app
    org: Org = await services.call(small_org, app)
    await services.call(give, app, org.boss, org.alice, FeedbackKind.ONE_ON_ONE, date(2026, 3, 3))
    await services.call(give, app, org.boss, org.alice, FeedbackKind.ONE_ON_ONE, date(2026, 3, 17))
    await services.call(give, app, org.bob, org.alice, FeedbackKind.PRAISE, date(2026, 3, 20))
    await services.call(give, app, org.alice, org.boss, FeedbackKind.ONE_ON_ONE, date(2026, 2, 27))
    await catch_up(services)
    rows = await fetch(
        services,
        "SELECT employee_id, month, kind, received, given FROM feedback_counts "
        "ORDER BY employee_id, month, kind",
    )
    counts = {(r["employee_id"], r["month"], r["kind"]): (r["received"], r["given"]) for r in rows}
    assert counts == {
        (org.alice, "2026-03", "one_on_one"): (2, 0),
        (org.alice, "2026-03", "praise"): (1, 0),
        (org.alice, "2026-02", "one_on_one"): (0, 1),
        (org.boss, "2026-03", "one_on_one"): (0, 2),
        (org.boss, "2026-02", "one_on_one"): (1, 0),
        (org.bob, "2026-03", "praise"): (0, 1),
    }
    model = services.projector.feedback
    assert model.counts(org.alice, date(2026, 3, 1), date(2026, 3, 17)) == {
        FeedbackKind.PRAISE: 0,
        FeedbackKind.IMPROVEMENT: 0,
        FeedbackKind.ONE_ON_ONE: 2,
    }
    assert model.counts(org.alice, date(2026, 1, 1), date(2026, 3, 31))[FeedbackKind.PRAISE] == 1
    assert model.counts(org.bob, date(2026, 1, 1), date(2026, 3, 31)) == dict.fromkeys(
        FeedbackKind, 0
    )


async def test_acknowledgements_land_in_the_same_or_a_later_batch(services: Services) -> None:
    app = services.app
    org: Org = await services.call(small_org, app)
    early = await services.call(give, app, org.boss, org.alice, FeedbackKind.PRAISE, TODAY)
    await catch_up(services)
    late = await services.call(give, app, org.boss, org.alice, FeedbackKind.PRAISE, TODAY)
    for feedback_id in (early, late):
        await services.call(
            app.acknowledge_feedback, as_role(Role.EMPLOYEE, org.alice), feedback_id, TODAY
        )
    await catch_up(services)
    rows = await fetch(services, "SELECT * FROM feedback ORDER BY position")
    assert [r["id"] for r in rows] == [early, late]
    assert [r["acknowledged_on"] for r in rows] == [TODAY, TODAY]
    assert all(r["acknowledged_position"] > r["position"] for r in rows)
    assert all(services.secrets.open(r["body_sealed"]) for r in rows)


async def test_a_rebuild_gives_the_same_rows_and_the_same_bodies(services: Services) -> None:
    app = services.app
    org: Org = await services.call(small_org, app)
    first = await services.call(give, app, org.boss, org.bob, FeedbackKind.ONE_ON_ONE, TODAY)
    await catch_up(services)
    await services.call(give, app, org.alice, org.bob, FeedbackKind.PRAISE, TODAY, SECRET)
    await services.call(app.acknowledge_feedback, as_role(Role.EMPLOYEE, org.bob), first, TODAY)
    await catch_up(services)

    async def snapshot() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        rows = await fetch(services, "SELECT * FROM feedback ORDER BY position")
        opened = [
            (
                *(v for k, v in r.items() if k != "body_sealed"),
                services.secrets.open(r["body_sealed"]),
            )
            for r in rows
        ]
        counts = await fetch(services, "SELECT * FROM feedback_counts ORDER BY 1, 2, 3")
        return opened, [tuple(r) for r in counts]

    incremental = await snapshot()
    before = services.projector.feedback.counts(org.bob, TODAY, TODAY)
    await rebuild(services)
    assert await snapshot() == incremental
    assert services.projector.feedback.counts(org.bob, TODAY, TODAY) == before
    # A fresh runner loads the committed rows into memory and answers the same counts.
    reloaded = Projector(secrets=services.secrets)
    conn = await services.connect()
    try:
        await build_runner(app, reloaded, services.database).catch_up(conn)
    finally:
        await conn.close()
    assert reloaded.feedback.counts(org.bob, TODAY, TODAY) == before


async def test_a_projector_without_the_key_keeps_no_bodies(services: Services) -> None:
    org: Org = await services.call(small_org, services.app)
    await services.call(give, services.app, org.boss, org.bob, FeedbackKind.PRAISE, TODAY, SECRET)
    keyless = Projector()
    conn = await services.connect()
    try:
        await keyless.reset(conn)
        await build_runner(services.app, keyless, services.database).catch_up(conn)
    finally:
        await conn.close()
    (row,) = await fetch(services, "SELECT * FROM feedback")
    assert row["body_sealed"] is None
    assert row["receiver_id"] == org.bob
