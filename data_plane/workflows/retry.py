"""A definition's retry policy as Temporal's, and what a failed activity says about
itself. Pure; imported by the workflow."""

import asyncio

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState
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
        non_retryable_error_types=list(retry.non_retryable_errors) or None,
    )


def reraise_cancellation(exc: BaseException) -> None:
    """Raise the cancellation of the step's task if an activity or child workflow failed
    because the step was cancelled (the run was): the node is cancelled, not failed."""
    if isinstance(getattr(exc, "cause", None), CancelledError):
        raise asyncio.CancelledError from exc


def retryable(retry: DefinitionRetryPolicy, error_type: str, says_retryable: bool) -> bool:
    """Whether a failed attempt is retried, by the node's word and the definition's."""
    return says_retryable and error_type not in retry.non_retryable_errors


# What awaiting an activity raises when it failed: an ActivityError around the cause,
# or, for a local activity in some cases (its last attempt's failure, a worker shutdown),
# the cause itself.
ActivityFailure = (ActivityError, ApplicationError)


def _cause(exc: ActivityError | ApplicationError) -> BaseException:
    return (exc.cause or exc) if isinstance(exc, ActivityError) else exc


def failure_message(exc: ActivityError | ApplicationError) -> str:
    cause = _cause(exc)
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause)


def failure_type(exc: ActivityError | ApplicationError) -> str:
    cause = _cause(exc)
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError"
    if isinstance(cause, TemporalTimeoutError):
        return "NodeTimedOut"
    return type(cause).__name__


def attempts_used(exc: ActivityError | ApplicationError, retry: DefinitionRetryPolicy) -> int:
    # A timed-out attempt cannot report itself; timeouts are retried, so a run of them,
    # like a run of retryable errors, used every attempt.
    cause = _cause(exc)
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        return 1
    exhausted = isinstance(exc, ActivityError) and (
        exc.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED
    )
    if exhausted or isinstance(cause, TemporalTimeoutError) or isinstance(exc, ApplicationError):
        return retry.max_attempts
    return 1
