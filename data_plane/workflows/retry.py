"""A definition's retry policy as Temporal's, and what a failed activity says about
itself. Pure; imported by the workflow."""

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, RetryState
from temporalio.exceptions import TimeoutError as TemporalTimeoutError

from connectors_sdk import RetryPolicy as DefinitionRetryPolicy


def temporal_policy(retry: DefinitionRetryPolicy, attempts_made: int = 0) -> RetryPolicy:
    """Temporal's policy for the attempts left after `attempts_made` (a first attempt
    made inside a chain): the backoff goes on from where those left it."""
    longest = max(retry.max_interval, retry.initial_interval)
    first_wait = retry.initial_interval * retry.backoff**attempts_made
    return RetryPolicy(
        initial_interval=min(first_wait, longest),
        backoff_coefficient=retry.backoff,
        maximum_interval=longest,
        maximum_attempts=retry.max_attempts - attempts_made,
    )


def failure_message(exc: ActivityError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or exc)


def failure_type(exc: ActivityError) -> str:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError"
    if isinstance(cause, TemporalTimeoutError):
        return "NodeTimedOut"
    return type(cause or exc).__name__


def attempts_used(exc: ActivityError, retry: DefinitionRetryPolicy) -> int:
    # A timed-out attempt cannot report itself; timeouts are retried, so a run of them,
    # like a run of retryable errors, used every attempt.
    used_all = exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED or isinstance(
        exc.cause, TemporalTimeoutError
    )
    return retry.max_attempts if used_all else 1
