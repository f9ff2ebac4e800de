"""The rules read model: a runner that restarts reloads every rule-set version exactly as defined,
360 weights, reward table and guideline included, and rows written before those fields existed
still load."""

from __future__ import annotations

import json
from decimal import Decimal

from domain.reviews import RaterSource
from domain.rules import DEFAULT_RULES, RuleSet, Tier
from projections.rules import RulesModel, rules_from_json, rules_to_json
from service.bootstrap import Services
from tests.helpers import HR
from tests.test_transcodings import FULL_RULES


async def test_a_restarted_runner_reloads_every_rule_set_exactly(services: Services) -> None:
    app = services.app
    await services.call(app.define_rule_set, HR, DEFAULT_RULES, "defaults")
    await services.call(app.define_rule_set, HR, FULL_RULES, "pilot")
    conn = await services.connect()
    try:
        await services.runner.catch_up(conn)
        reloaded = RulesModel()
        await reloaded.load(conn)
    finally:
        await conn.close()
    assert reloaded.versions == {1: DEFAULT_RULES, 2: FULL_RULES.validated()}
    # jsonb sorts object keys its own way; the validated order (by key) must come back.
    assert list(reloaded.versions[1].source_weights) == [
        RaterSource.CUSTOMER,
        RaterSource.MANAGER,
        RaterSource.PEER,
        RaterSource.SELF,
    ]
    assert reloaded.versions[2].reward_rules() == FULL_RULES.validated().reward_rules()


def test_a_row_written_before_360_weights_and_rewards_existed_loads_with_the_defaults() -> None:
    old_keys = {"achievementCap", "achievementFloor", "perspectiveWeights", "tiers"}
    rules = RuleSet(tiers=[Tier("A", Decimal(50)), Tier("B", Decimal(0))])
    row = {k: v for k, v in json.loads(rules_to_json(rules)).items() if k in old_keys}
    assert rules_from_json(json.dumps(row)) == rules
