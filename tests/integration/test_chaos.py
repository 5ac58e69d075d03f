"""CONTRACT.md §3 under every fault at once: the short version of `make chaos` (scripts/chaos.py).

A stack of its own with every chaos switch on (duplicated stream and SQS deliveries, invocations crashing before and
after their handler on streams, queues and the Lambda Invoke API, a provider that drops, duplicates and delays its
webhooks), the same workload driver with a small workload (registered donors and guests, replays and races of one
Idempotency-Key, declined cards, concurrent and reverse-order webhooks, a poison message), the same checker and the
same fault counter. Every invariant holds, and every fault class was injected a few times at least.
"""

from __future__ import annotations

import time

import pytest

from scripts import chaos
from tests.integration.conftest import run_stack

SETTINGS = chaos.ChaosSettings()
WORKLOAD = chaos.SHORT

pytestmark = pytest.mark.timeout(420)  # the stack's start and the whole run happen in the first test


@pytest.fixture(scope="module")
def chaos_stack(tmp_path_factory):
    yield from run_stack(tmp_path_factory, "chaos", SETTINGS.env())


@pytest.fixture(scope="module")
def result(chaos_stack) -> chaos.ChaosResult:
    started = time.monotonic()
    outcome = chaos.run_chaos(chaos_stack.stack, WORKLOAD, SETTINGS, progress=print)
    print(chaos.render(outcome))
    print(f"short chaos run: {time.monotonic() - started:.0f} s")
    return outcome


def _invariant(result: chaos.ChaosResult, number: int) -> chaos.InvariantResult:
    return next(i for i in result.invariants if i.number == number)


def test_pledges_under_chaos_keep_one_pledge_per_caller_and_key(result):
    held = _invariant(result, 1)

    assert held.checked >= WORKLOAD.pledges
    assert held.breaches == []


def test_webhooks_under_chaos_move_payments_forward_and_apply_each_event_once(result):
    held = _invariant(result, 2)

    assert held.checked >= WORKLOAD.pledges
    assert held.breaches == []


def test_totals_under_chaos_equal_sum_and_count_of_captured_or_completed_pledges(result):
    held = _invariant(result, 3)

    assert held.checked == WORKLOAD.campaigns
    assert held.breaches == []


def test_pledges_under_chaos_all_end_completed_or_failed(result):
    held = _invariant(result, 4)

    assert held.checked >= WORKLOAD.pledges
    assert held.breaches == []


def test_poison_message_under_load_ends_in_dlq_without_blocking_the_rest(result):
    held = _invariant(result, 5)

    assert held.checked >= WORKLOAD.pledges + 1
    assert held.breaches == []


def test_chaos_run_injects_every_fault_class_a_few_times(result):
    too_few = {f.name: f.count for f in result.faults if not f.enough}

    assert len(result.faults) == 12
    assert too_few == {}
