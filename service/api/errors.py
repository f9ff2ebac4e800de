"""Errors in the schema: rejected commands are data; query errors carry a code."""

from __future__ import annotations

from enum import Enum

import strawberry
from graphql import GraphQLError

from domain.errors import DomainError


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
    DOMAIN_ERROR = "DOMAIN_ERROR"


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


def forbidden(what: str) -> QueryError:
    return QueryError("FORBIDDEN", f"your role does not allow you to see {what}")


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # a validation or syntax error: it names the problem in the document
    return not isinstance(original, (QueryError, DomainError))
