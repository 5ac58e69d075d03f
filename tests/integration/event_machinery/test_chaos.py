"""Chaos switches (careforall_local/chaos.py), each in a stack of its own: duplicated stream batches
(at-least-once delivery made visible) and invocations reported failed after the handler ran."""

from __future__ import annotations

import pytest

from tests.integration.event_machinery.support import Probe, QueueDrain, start_machinery_stack, unique


@pytest.fixture(scope="module")
def duplicating(tmp_path_factory) -> Probe:
    stack = start_machinery_stack(tmp_path_factory.mktemp("chaos-duplicate"), CAREFORALL_CHAOS_DUPLICATE="1",
                                  CAREFORALL_CHAOS_FUNCTIONS="StreamConsumer")
    yield Probe(stack.aws_endpoint)
    assert stack.stop() == 0, stack.log()[-3000:]


@pytest.fixture(scope="module")
def failing_after(tmp_path_factory) -> Probe:
    stack = start_machinery_stack(tmp_path_factory.mktemp("chaos-fail-after"), CAREFORALL_CHAOS_FAIL_AFTER="1",
                                  CAREFORALL_CHAOS_FUNCTIONS="QueueConsumer")
    yield Probe(stack.aws_endpoint)
    assert stack.stop() == 0, stack.log()[-3000:]


def test_stream_write_with_duplicate_chaos_journaled_exactly_twice(duplicating):
    key = unique("twice")
    duplicating.write((key, "ok"))
    duplicating.delivered("stream", key, times=2)
    duplicating.settle_stream()

    assert len(duplicating.journal("stream", key)) == 2


def test_ok_message_with_fail_after_chaos_processed_on_every_receive_then_dead_lettered(failing_after):
    message = unique("fail-after")
    failing_after.send("WorkQueue", message)

    QueueDrain(failing_after, "WorkDeadLetterQueue").find(lambda body: body["id"] == message, timeout=40)

    assert [e["receive_count"] for e in failing_after.journal("queue", message)] == ["1", "2", "3"]
