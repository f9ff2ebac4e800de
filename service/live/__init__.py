"""Live updates: GraphQL subscriptions fed by the projection runner's NOTIFY after each commit.

- ``feed``: one per process. It follows the read models' position (the process's single
  listener connection, ``service.positions.PositionWatcher``), reads the audit-trail rows of each
  newly committed range once, learns from them which subjects changed, fetches the changed rows
  of each kind once, and fans them out to the subscribers indexed under those subjects.
- ``subscriber``: one bounded queue per subscription; one that cannot keep up is disconnected.
- ``channels``: what each kind of subscription listens to, how its rows are fetched once per
  commit for everyone, who receives which row, and how a resuming subscriber is replayed.
- ``at_risk``: goals behind their straight line (``domain.trajectory``), for the alerts and the
  ``atRiskGoals`` query.
- ``trials``: a running trial's comparison, recomputed at most once a second per trial.
- ``socket``: the websocket side (graphql-transport-ws): sign-in at ``connection_init``, a context
  that stays fresh across messages, hanging up on slow subscribers.
"""
