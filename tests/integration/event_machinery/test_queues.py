"""SQS event source mappings: WorkQueue -> QueueConsumer (ReportBatchItemFailures; VisibilityTimeout 2 s,
RedrivePolicy maxReceiveCount 3 to WorkDeadLetterQueue) and the FIFO OrderedQueue -> OrderedConsumer."""

from __future__ import annotations

import json

import pytest

from tests.integration.event_machinery.support import eventually, unique

MAX_RECEIVE_COUNT = 3
DEAD_LETTER_TIMEOUT = 40  # three receives, 2 s of visibility timeout each, plus the long polls


@pytest.fixture(scope="module")
def reported_failure(probe, dead_letters) -> tuple[str, str]:
    """A message reported in batchItemFailures, sent in one batch with an ok companion; returns
    (failed id, companion id) once the failed one reached the dead-letter queue."""
    failed, companion = unique("fail"), unique("companion")
    probe.sqs.send_message_batch(QueueUrl=probe.queue_url("WorkQueue"), Entries=[
        {"Id": "companion", "MessageBody": json.dumps({"id": companion, "mode": "ok"})},
        {"Id": "failed", "MessageBody": json.dumps({"id": failed, "mode": "fail"})}])
    dead_letters.find(lambda body: body["id"] == failed, timeout=DEAD_LETTER_TIMEOUT)
    return failed, companion


def test_ok_message_delivered_once_then_deleted(probe):
    message = unique("ok")
    probe.send("WorkQueue", message)

    probe.delivered("queue", message)
    eventually(lambda: probe.queue_counts("WorkQueue") == (0, 0), what="WorkQueue empty")

    assert [e["receive_count"] for e in probe.journal("queue", message)] == ["1"]


def test_message_reported_in_batch_item_failures_received_max_receive_count_times(probe, reported_failure):
    failed, _ = reported_failure

    assert [e["receive_count"] for e in probe.journal("queue", failed)] == ["1", "2", "3"]


def test_message_reported_in_batch_item_failures_moved_to_dead_letter_queue(probe, reported_failure, dead_letters):
    failed, _ = reported_failure

    assert [body for body in dead_letters.bodies if body["id"] == failed] == [{"id": failed, "mode": "fail"}]


def test_message_beside_a_reported_failure_delivered_once(probe, reported_failure):
    failed, companion = reported_failure
    entries = probe.journal("queue", companion)

    assert [e["receive_count"] for e in entries] == ["1"]
    assert failed in entries[0]["batch"]  # the same invocation: only the reported message was kept


def test_message_whose_handler_raises_received_max_receive_count_times_then_dead_lettered(probe, dead_letters):
    message = unique("raise")
    probe.send("WorkQueue", message, mode="raise")

    dead_letters.find(lambda body: body["id"] == message, timeout=DEAD_LETTER_TIMEOUT)

    assert [e["receive_count"] for e in probe.journal("queue", message)] == ["1", "2", "3"]


def test_fifo_messages_in_two_groups_delivered_in_send_order_per_group(probe):
    tag = unique("fifo")
    sent = {group: [f"{tag}-{group}-{i}" for i in range(8)] for group in ("A", "B")}
    for a, b in zip(sent["A"], sent["B"]):  # interleaved: A0, B0, A1, B1, ...
        probe.send("OrderedQueue.fifo", a, MessageGroupId="A")
        probe.send("OrderedQueue.fifo", b, MessageGroupId="B")
    everything = sent["A"] + sent["B"]

    entries = eventually(lambda: len(e := probe.journal_of("queue", everything)) >= len(everything) and e,
                         what="all 16 FIFO messages delivered")

    for group, ids in sent.items():
        assert [e["key"] for e in entries if e["group"] == group] == ids
