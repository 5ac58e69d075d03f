"""The payment state machine of the contract, as data.

PENDING -> AUTHORIZED -> CAPTURED -> COMPLETED, and FAILED from PENDING, AUTHORIZED or CAPTURED.
States only move forward; a later state applies even when it skips states (the provider's word
is final); the same or an earlier state changes nothing. COMPLETED and FAILED are terminal.
"""

from __future__ import annotations

from enum import Enum


class PaymentState(str, Enum):
    PENDING = "PENDING"
    AUTHORIZED = "AUTHORIZED"
    CAPTURED = "CAPTURED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


_RANK = {PaymentState.PENDING: 0, PaymentState.AUTHORIZED: 1, PaymentState.CAPTURED: 2, PaymentState.COMPLETED: 3}
TERMINAL = frozenset({PaymentState.COMPLETED, PaymentState.FAILED})


def can_move(current: PaymentState, target: PaymentState) -> bool:
    """True when `target` is a forward move from `current` (the only moves that change anything)."""
    if current in TERMINAL:
        return False
    if target is PaymentState.FAILED:
        return True
    return _RANK[target] > _RANK[current]


def sources_of(target: PaymentState) -> list[PaymentState]:
    """Every state from which `target` may be entered: the condition of the conditional write."""
    return [state for state in PaymentState if can_move(state, target)]


def reached(current: PaymentState, wanted: PaymentState) -> bool:
    """Whether a workflow waiting for `wanted` can go on: the payment is there or beyond it (not FAILED)."""
    return current is not PaymentState.FAILED and _RANK[current] >= _RANK[wanted]
