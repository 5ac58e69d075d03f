"""careforall.contention: which DynamoDB refusals are retried (reason by reason), the full-jitter backoff, and
ServiceBusyError once the retries run out."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from careforall import contention
from careforall.errors import ServiceBusyError


def cancelled(*codes: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                        "CancellationReasons": [{"Code": code} for code in codes]}, "TransactWriteItems")


def refused(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, "PutItem")


@pytest.mark.parametrize("error,base", [
    (cancelled("TransactionConflict", "None"), 0.025),
    (cancelled("None", "ThrottlingError"), 0.1),
    (cancelled("ProvisionedThroughputExceeded"), 0.1),
    (cancelled("TransactionConflict", "ThrottlingError"), 0.1),
    (refused("ThrottlingException"), 0.1),
    (refused("ProvisionedThroughputExceededException"), 0.1),
    (refused("RequestLimitExceeded"), 0.1),
    (refused("TransactionInProgressException"), 0.05),
], ids=["conflict", "item throttled", "over capacity", "conflict and throttled", "throttling", "throughput",
        "request limit", "transaction in progress"])
def test_retry_base_contention_returns_its_first_delay_bound(error, base):
    assert contention.retry_base_seconds(error) == base


@pytest.mark.parametrize("error", [
    cancelled("ConditionalCheckFailed", "None"), cancelled("TransactionConflict", "ConditionalCheckFailed"),
    cancelled("ValidationError"), cancelled("None", "None"), refused("ConditionalCheckFailedException"),
    refused("ValidationException"), RuntimeError("not a client error"),
], ids=["condition failed", "conflict and condition failed", "invalid", "no reason", "put condition failed",
        "validation", "other exception"])
def test_retry_base_answer_or_fault_is_not_retried(error):
    assert contention.retry_base_seconds(error) is None


def test_backoff_delay_is_uniform_up_to_doubling_bound_within_cap():
    top = contention.Backoff(cap_seconds=0.5, uniform=lambda: 1.0)
    half = contention.Backoff(cap_seconds=0.5, uniform=lambda: 0.5)

    assert [top.delay(0.1, n) for n in range(4)] == [0.1, 0.2, 0.4, 0.5]
    assert half.delay(0.1, 1) == 0.1


def test_retry_contended_success_after_contention_returns_result():
    answers, waits = [cancelled("TransactionConflict"), "written"], []

    def write():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert contention.retry_contended(write, backoff=contention.Backoff(sleep=waits.append)) == "written"
    assert len(waits) == 1


def test_retry_contended_exhausted_raises_service_busy_from_last_error():
    error, calls = refused("ThrottlingException"), []

    def write():
        calls.append(1)
        raise error

    with pytest.raises(ServiceBusyError) as raised:
        contention.retry_contended(write, backoff=contention.Backoff(attempts=3, sleep=lambda _: None))

    assert len(calls) == 3 and raised.value.__cause__ is error


def test_retry_contended_answer_raises_it_at_once():
    error, calls = cancelled("ConditionalCheckFailed"), []

    def write():
        calls.append(1)
        raise error

    with pytest.raises(ClientError) as raised:
        contention.retry_contended(write, backoff=contention.Backoff(sleep=lambda _: pytest.fail("slept")))

    assert raised.value is error and len(calls) == 1
