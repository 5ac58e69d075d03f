"""DynamoDB contention: which refusals a write retries, with what jittered backoff, and the 503 after that.

A transaction cancelled because another transaction was writing one of its items (TransactionConflict), or a
request throttled (one hot partition, the table's capacity), is nobody's fault and usually clears within
milliseconds: the write is retried with full-jitter exponential backoff, decided reason by reason (a conflict
retries sooner than throttling), and when retries run out the caller gets ServiceBusyError (503 with
Retry-After), never a 500. A refusal that is an answer (ConditionalCheckFailed) is never retried.
botocore's standard retry mode already retries a throttled call a few times; a cancelled transaction it
never retries. Duck-typed on botocore's ClientError, so that no module here imports boto3.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from careforall.errors import ServiceBusyError

T = TypeVar("T")

# Cancellation reasons of TransactWriteItems worth a retry, with the first retry's upper bound in seconds.
RETRYABLE_REASONS = {"TransactionConflict": 0.025, "ThrottlingError": 0.1, "ProvisionedThroughputExceeded": 0.1,
                     "RequestLimitExceeded": 0.1}
# Whole-request errors that mean contention, not a bad request.
CONTENTION_ERRORS = {"ThrottlingException": 0.1, "ProvisionedThroughputExceededException": 0.1,
                     "RequestLimitExceeded": 0.1, "TransactionInProgressException": 0.05,
                     "TransactionConflictException": 0.025}


def error_code(error: BaseException) -> str | None:
    return (getattr(error, "response", None) or {}).get("Error", {}).get("Code")


def cancellation_codes(error: BaseException) -> list[str]:
    """Per-item reasons of a cancelled TransactWriteItems, in request order ('None' where it passed)."""
    reasons = (getattr(error, "response", None) or {}).get("CancellationReasons") or []
    return [reason.get("Code") or "None" for reason in reasons]


def retry_base_seconds(error: BaseException) -> float | None:
    """The first retry's upper bound for a refusal caused by contention; None for anything else."""
    code = error_code(error)
    if code in CONTENTION_ERRORS:
        return CONTENTION_ERRORS[code]
    if code != "TransactionCanceledException":
        return None
    reasons = [reason for reason in cancellation_codes(error) if reason != "None"]
    if not reasons or any(reason not in RETRYABLE_REASONS for reason in reasons):
        return None  # e.g. a ConditionalCheckFailed: an answer, the same on every retry
    return max(RETRYABLE_REASONS[reason] for reason in reasons)


@dataclass(frozen=True)
class Backoff:
    """Full jitter: attempt n waits a uniform random time up to min(cap, base × 2^n)."""

    attempts: int = 4
    cap_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep)
    uniform: Callable[[], float] = field(default=random.random)

    def delay(self, base_seconds: float, attempt: int) -> float:
        return self.uniform() * min(self.cap_seconds, base_seconds * 2 ** attempt)


DEFAULT_BACKOFF = Backoff()


def retry_contended(write: Callable[[], T], *, backoff: Backoff = DEFAULT_BACKOFF,
                    retry_base: Callable[[BaseException], float | None] = retry_base_seconds) -> T:
    """`write()`, retried while it meets contention; ServiceBusyError once `backoff.attempts` all did."""
    for attempt in range(backoff.attempts):
        try:
            return write()
        except Exception as error:  # noqa: BLE001 - classified below, re-raised unless it is contention
            base = retry_base(error)
            if base is None:
                raise
            if attempt == backoff.attempts - 1:
                raise ServiceBusyError() from error
            backoff.sleep(backoff.delay(base, attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")
