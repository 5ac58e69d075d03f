"""The payment state machine against the contract's table: every (from, to) pair of the five states."""

from __future__ import annotations

import itertools

import pytest

from payments_service.transitions import TERMINAL, PaymentState, can_move, reached, sources_of

P, A, C, D, F = (PaymentState.PENDING, PaymentState.AUTHORIZED, PaymentState.CAPTURED, PaymentState.COMPLETED,
                 PaymentState.FAILED)

# The contract: PENDING -> AUTHORIZED -> CAPTURED -> COMPLETED (skipping allowed), FAILED from PENDING,
# AUTHORIZED or CAPTURED; same state, backward moves and anything out of COMPLETED or FAILED refused.
ALLOWED = {(P, A), (P, C), (P, D), (P, F), (A, C), (A, D), (A, F), (C, D), (C, F)}
ALL_PAIRS = list(itertools.product(PaymentState, repeat=2))


def test_pairs_cover_every_combination_of_the_five_states():
    assert len(PaymentState) == 5
    assert len(ALL_PAIRS) == 25


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_can_move_pair_matches_contract_table(current, target):
    assert can_move(current, target) is ((current, target) in ALLOWED)


@pytest.mark.parametrize("state", list(PaymentState))
def test_can_move_same_state_is_refused(state):
    assert can_move(state, state) is False


@pytest.mark.parametrize("terminal", [D, F])
def test_can_move_out_of_terminal_state_is_refused(terminal):
    assert [target for target in PaymentState if can_move(terminal, target)] == []


def test_terminal_states_are_completed_and_failed():
    assert TERMINAL == {D, F}


@pytest.mark.parametrize(("target", "sources"), [
    (P, []),
    (A, [P]),
    (C, [P, A]),
    (D, [P, A, C]),
    (F, [P, A, C]),
])
def test_sources_of_target_lists_every_state_it_may_be_entered_from(target, sources):
    assert sources_of(target) == sources


@pytest.mark.parametrize(("current", "wanted", "expected"), [
    (P, P, True), (P, A, False), (P, C, False), (P, D, False),
    (A, P, True), (A, A, True), (A, C, False), (A, D, False),
    (C, P, True), (C, A, True), (C, C, True), (C, D, False),
    (D, P, True), (D, A, True), (D, C, True), (D, D, True),
])
def test_reached_is_true_at_or_beyond_wanted_state(current, wanted, expected):
    assert reached(current, wanted) is expected


@pytest.mark.parametrize("wanted", [P, A, C, D])
def test_reached_from_failed_is_never_true(wanted):
    assert reached(F, wanted) is False
