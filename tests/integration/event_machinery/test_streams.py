"""DynamoDB stream event source mapping (StreamConsumer on ProbeTable's stream: BatchSize 10,
MaximumRetryAttempts 2, BisectBatchOnFunctionError, ReportBatchItemFailures, OnFailure to
StreamFailureQueue), observed through the probe's journal: what was delivered, how often, in which batches."""

from __future__ import annotations

import pytest

from tests.integration.event_machinery.support import unique

BATCH_SIZE = 10
ATTEMPTS = 1 + 2  # the first delivery and MaximumRetryAttempts retries


def seq(entry: dict) -> int:
    return int(entry["seq"])


@pytest.fixture(scope="module")
def fifteen(probe) -> list[str]:
    """Fifteen ok items written at once, while the poller is busy, so more than a batch is waiting."""
    tag = unique("order")
    keys = [f"{tag}-{i:02d}" for i in range(15)]
    probe.write_while_shard_busy(*((key, "ok") for key in keys))
    probe.settle_stream()
    return keys


@pytest.fixture(scope="module")
def partial(probe) -> tuple[str, str, str]:
    """[ok, partial, ok] in one batch; the middle one is reported in batchItemFailures every time."""
    tag = unique("partial")
    keys = (f"{tag}-first", f"{tag}-partial", f"{tag}-after")
    probe.write_while_shard_busy((keys[0], "ok"), (keys[1], "partial"), (keys[2], "ok"))
    probe.settle_stream()
    return keys


def test_write_fifteen_items_each_delivered_exactly_once_in_sequence_order(probe, fifteen):
    entries = probe.journal_of("stream", fifteen)

    assert [e["key"] for e in entries] == fifteen
    assert [seq(e) for e in entries] == sorted(seq(e) for e in entries)
    assert len({seq(e) for e in entries}) == len(fifteen)


def test_write_more_items_than_batch_size_delivered_in_batches_of_at_most_ten(probe, fifteen):
    batches = {tuple(e["batch"]) for e in probe.journal_of("stream", fifteen)}

    assert all(len(batch) <= BATCH_SIZE for batch in batches), batches
    assert max(len(batch) for batch in batches) == BATCH_SIZE, batches  # a full batch when enough waited


def test_partial_batch_failure_redelivers_from_the_failed_record_on(probe, partial):
    first, failed, after = partial

    assert [e["batch"] for e in probe.journal("stream", first)] == [[first, failed, after]]
    assert len(probe.journal("stream", failed)) == ATTEMPTS
    assert len(probe.journal("stream", after)) == ATTEMPTS
    assert [e["batch"] for e in probe.journal("stream", failed)][1:] == [[failed, after]] * (ATTEMPTS - 1)


def test_partial_batch_failure_retries_exhausted_sends_batch_info_from_failed_record(probe, partial,
                                                                                     stream_failures):
    _, failed, after = partial
    failed_seq = probe.journal("stream", failed)[0]["seq"]
    after_seq = probe.journal("stream", after)[0]["seq"]

    record = stream_failures.find(lambda body: body["DDBStreamBatchInfo"]["startSequenceNumber"] == failed_seq)

    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["endSequenceNumber"] == after_seq
    assert record["DDBStreamBatchInfo"]["batchSize"] == 2


def test_poison_record_retries_exhausted_on_failure_record_covers_only_the_poison(probe, stream_failures):
    tag = unique("poison")
    poison, neighbour = f"{tag}-poison", f"{tag}-neighbour"
    probe.write_while_shard_busy((poison, "fail"), (neighbour, "ok"))
    poison_seq = probe.delivered("stream", poison)[0]["seq"]

    record = stream_failures.find(lambda body: body["DDBStreamBatchInfo"]["startSequenceNumber"] == poison_seq)

    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["DDBStreamBatchInfo"]["endSequenceNumber"] == poison_seq
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
    # bisection split [poison, neighbour] (splitting does not count as a retry); [poison] alone had every attempt
    assert [e["batch"] for e in probe.journal("stream", poison)].count([poison]) == ATTEMPTS


def test_poison_record_failing_records_written_after_it_still_delivered(probe):
    tag = unique("unblocked")
    poison, later = f"{tag}-poison", [f"{tag}-later-{i}" for i in range(3)]
    probe.write((poison, "fail"))
    probe.delivered("stream", poison)
    probe.write(*((key, "ok") for key in later))

    for key in later:
        probe.delivered("stream", key)


def test_erroring_batch_with_bisect_redelivers_a_smaller_batch_without_the_poison(probe):
    tag = unique("bisect")
    keys = [f"{tag}-ok-1", f"{tag}-ok-2", f"{tag}-poison", f"{tag}-ok-3"]
    probe.write_while_shard_busy((keys[0], "ok"), (keys[1], "ok"), (keys[2], "fail"), (keys[3], "ok"))
    probe.settle_stream()

    batches = [e["batch"] for e in probe.journal("stream", keys[0])]

    assert batches[0] == keys
    assert keys[:2] in batches[1:]
    assert all(keys[2] not in batch for batch in batches[1:])
