"""Named domain errors.

Every expected failure of a command is one of these. Each carries a stable, machine-readable
``code`` (surfaced in the GraphQL schema), a message written for the person who sent the command
and, where one input is to blame, the ``field`` that names it.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "DOMAIN_ERROR"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    code = "INVALID_INPUT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class ManagerCycle(DomainError):
    code = "MANAGER_CYCLE"


class DepartmentCycle(DomainError):
    code = "DEPARTMENT_CYCLE"


class EmployeeHasLeft(DomainError):
    code = "EMPLOYEE_HAS_LEFT"


class WeightsExceeded(DomainError):
    code = "WEIGHTS_EXCEEDED"


class WeightsIncomplete(DomainError):
    code = "WEIGHTS_INCOMPLETE"


class GoalSetConfirmed(DomainError):
    code = "GOAL_SET_CONFIRMED"


class TargetEqualsBaseline(DomainError):
    code = "TARGET_EQUALS_BASELINE"


class TargetAgainstDirection(DomainError):
    code = "TARGET_AGAINST_DIRECTION"


class DueDateOutsidePeriod(DomainError):
    code = "DUE_DATE_OUTSIDE_PERIOD"


class MeasurementOutsidePeriod(DomainError):
    code = "MEASUREMENT_OUTSIDE_PERIOD"


class GoalNotOpen(DomainError):
    code = "GOAL_NOT_OPEN"


class ReasonRequired(DomainError):
    code = "REASON_REQUIRED"


class InvalidRuleSet(DomainError):
    code = "INVALID_RULE_SET"


class ConcurrentModification(DomainError):
    """Raised when a command kept losing the race for the same aggregate."""

    code = "CONCURRENT_MODIFICATION"


class FeedbackToSelf(DomainError):
    code = "FEEDBACK_TO_SELF"


class AlreadyAcknowledged(DomainError):
    code = "ALREADY_ACKNOWLEDGED"


class ReferenceSalaryRequired(DomainError):
    code = "REFERENCE_SALARY_REQUIRED"


class RewardAlreadyRevoked(DomainError):
    code = "REWARD_ALREADY_REVOKED"


# -- reviews --


class CompetencyNotRated(DomainError):
    code = "COMPETENCY_NOT_RATED"


class CycleNotInState(DomainError):
    code = "CYCLE_NOT_IN_STATE"


class ExternalTokenExpired(DomainError):
    code = "EXTERNAL_TOKEN_EXPIRED"


class ExternalTokenInvalid(DomainError):
    code = "EXTERNAL_TOKEN_INVALID"


class ExternalTokenUsed(DomainError):
    code = "EXTERNAL_TOKEN_USED"


class RaterAlreadyAssigned(DomainError):
    code = "RATER_ALREADY_ASSIGNED"


class RaterNotAssigned(DomainError):
    code = "RATER_NOT_ASSIGNED"


class RatingOutOfScale(DomainError):
    code = "RATING_OUT_OF_SCALE"


class ReviewAlreadySubmitted(DomainError):
    code = "REVIEW_ALREADY_SUBMITTED"


class SelfAsPeer(DomainError):
    code = "SELF_AS_PEER"


class SubmissionDeadlinePassed(DomainError):
    code = "SUBMISSION_DEADLINE_PASSED"


class InsufficientData(DomainError):
    """Too few ratings, raters or people for a statistic to mean anything: the audit says so
    instead of printing a number."""

    code = "INSUFFICIENT_DATA"


# -- trials --


class TrialNotRunning(DomainError):
    """The trial was already promoted or rolled back: it can no longer change."""

    code = "TRIAL_NOT_RUNNING"


class OverlappingTrial(DomainError):
    """Another running trial already pilots some of the same people or departments."""

    code = "OVERLAPPING_TRIAL"


class UnknownScopeMembers(DomainError):
    """A trial's scope names departments or employees the organisation does not have."""

    code = "UNKNOWN_SCOPE_MEMBERS"


class PilotSameAsProduction(DomainError):
    """The pilot's rule-set version is the one production uses for the trial's period."""

    code = "PILOT_SAME_AS_PRODUCTION"


class NotATrialParticipant(DomainError):
    code = "NOT_A_TRIAL_PARTICIPANT"
