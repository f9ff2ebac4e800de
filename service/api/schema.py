"""The schema, with its protective limits and caches."""

from __future__ import annotations

import strawberry
from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from service.api import (
    as_of,
    audit,
    audit_trail,
    explain,
    fairness,
    feedback,
    mutations,
    queries,
    review_mutations,
    reviews,
    rewards,
    subscriptions,
    trials,
    whatif,
)
from service.api.errors import should_mask

# One root type per feature module, merged: each feature owns its fields.
Query = merge_types(
    "Query",
    (
        queries.Query,
        feedback.FeedbackQuery,
        rewards.RewardQuery,
        reviews.ReviewQuery,
        audit.AuditQuery,
        audit_trail.AuditTrailQuery,
        as_of.AsOfQuery,
        explain.ExplainQuery,
        fairness.FairnessQuery,
        whatif.WhatIfQuery,
        trials.TrialQuery,
        subscriptions.LiveQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        mutations.Mutation,
        feedback.FeedbackMutation,
        rewards.RewardMutation,
        review_mutations.ReviewMutation,
        fairness.FairnessMutation,
        trials.TrialMutation,
    ),
)

MAX_DEPTH = 10
MAX_TOKENS = 2000
MAX_ALIASES = 30

# The limit rules are classes made once: the validation cache keys on the rule classes, and a
# QueryDepthLimiter or MaxAliasesLimiter built per request makes new ones, so nothing would hit.
LIMIT_RULES: list[type[ASTValidationRule]] = [
    depth_rule(MAX_DEPTH, None, None),
    aliases_rule(MAX_ALIASES),
]


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=subscriptions.Subscription,
        extensions=[
            # Factories: a fresh extension per request; the caches live at module level.
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: AddValidationRules(LIMIT_RULES),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            lambda: MaskErrors(should_mask_error=should_mask),
            as_of.CloseRequestScope,
        ],
    )


schema = build_schema()
