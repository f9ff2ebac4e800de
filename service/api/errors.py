"""Errors in the schema: rejected commands are data; query errors carry a code."""

from __future__ import annotations

from collections.abc import Awaitable
from enum import Enum
from typing import TypeVar

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError

T = TypeVar("T")


@strawberry.enum(description="Why a command was rejected; stable, for programs to act on.")
class ErrorCode(Enum):
    INVALID_INPUT = "INVALID_INPUT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    MANAGER_CYCLE = "MANAGER_CYCLE"
    DEPARTMENT_CYCLE = "DEPARTMENT_CYCLE"
    EMPLOYEE_HAS_LEFT = "EMPLOYEE_HAS_LEFT"
    WEIGHTS_EXCEEDED = "WEIGHTS_EXCEEDED"
    WEIGHTS_INCOMPLETE = "WEIGHTS_INCOMPLETE"
    GOAL_SET_CONFIRMED = "GOAL_SET_CONFIRMED"
    TARGET_EQUALS_BASELINE = "TARGET_EQUALS_BASELINE"
    TARGET_AGAINST_DIRECTION = "TARGET_AGAINST_DIRECTION"
    DUE_DATE_OUTSIDE_PERIOD = "DUE_DATE_OUTSIDE_PERIOD"
    MEASUREMENT_OUTSIDE_PERIOD = "MEASUREMENT_OUTSIDE_PERIOD"
    GOAL_NOT_OPEN = "GOAL_NOT_OPEN"
    REASON_REQUIRED = "REASON_REQUIRED"
    INVALID_RULE_SET = "INVALID_RULE_SET"
    CONCURRENT_MODIFICATION = "CONCURRENT_MODIFICATION"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    POSITION_NOT_REACHED = "POSITION_NOT_REACHED"
    COMPETENCY_NOT_RATED = "COMPETENCY_NOT_RATED"
    CYCLE_NOT_IN_STATE = "CYCLE_NOT_IN_STATE"
    EXTERNAL_TOKEN_EXPIRED = "EXTERNAL_TOKEN_EXPIRED"
    EXTERNAL_TOKEN_INVALID = "EXTERNAL_TOKEN_INVALID"
    EXTERNAL_TOKEN_USED = "EXTERNAL_TOKEN_USED"
    RATER_ALREADY_ASSIGNED = "RATER_ALREADY_ASSIGNED"
    RATER_NOT_ASSIGNED = "RATER_NOT_ASSIGNED"
    RATING_OUT_OF_SCALE = "RATING_OUT_OF_SCALE"
    REVIEW_ALREADY_SUBMITTED = "REVIEW_ALREADY_SUBMITTED"
    SELF_AS_PEER = "SELF_AS_PEER"
    SUBMISSION_DEADLINE_PASSED = "SUBMISSION_DEADLINE_PASSED"
    DOMAIN_ERROR = "DOMAIN_ERROR"
    FEEDBACK_TO_SELF = "FEEDBACK_TO_SELF"
    ALREADY_ACKNOWLEDGED = "ALREADY_ACKNOWLEDGED"
    REFERENCE_SALARY_REQUIRED = "REFERENCE_SALARY_REQUIRED"
    REWARD_ALREADY_REVOKED = "REWARD_ALREADY_REVOKED"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
    TRIAL_NOT_RUNNING = "TRIAL_NOT_RUNNING"
    OVERLAPPING_TRIAL = "OVERLAPPING_TRIAL"
    UNKNOWN_SCOPE_MEMBERS = "UNKNOWN_SCOPE_MEMBERS"
    PILOT_SAME_AS_PRODUCTION = "PILOT_SAME_AS_PRODUCTION"
    NOT_A_TRIAL_PARTICIPANT = "NOT_A_TRIAL_PARTICIPANT"


@strawberry.type(description="The command was refused; nothing was recorded.")
class CommandRejected:
    code: ErrorCode
    message: str
    field: str | None = strawberry.field(
        default=None, description="The input field to blame, when one is."
    )

    @classmethod
    def of(cls, error: DomainError) -> CommandRejected:
        try:
            code = ErrorCode(error.code)
        except ValueError:
            code = ErrorCode.DOMAIN_ERROR
        return cls(code=code, message=error.message, field=error.field)


class QueryError(GraphQLError):
    """An expected failure of a query (forbidden, not found, not yet projected): never masked."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, extensions={"code": code})


async def answered(awaitable: Awaitable[T]) -> T:
    """The awaited answer; a domain error on the way becomes the query's coded error."""
    try:
        return await awaitable
    except DomainError as error:
        raise QueryError(error.code, error.message) from None


def forbidden(what: str) -> QueryError:
    return QueryError("FORBIDDEN", f"your role does not allow you to see {what}")


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # a validation or syntax error: it names the problem in the document
    return not isinstance(original, (QueryError, DomainError))
