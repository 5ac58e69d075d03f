"""The totals aggregator's arithmetic: fold a batch per campaign, apply each payment's change once.

A payment counts (its amount, and one pledge) while it is CAPTURED or COMPLETED; entering those
states adds it, leaving for FAILED takes it back. The ledger keeps, per payment, the version the
totals already include and whether it counted then: a record at or below that version is a
repeat and changes nothing. The ledger entries and the campaign's totals are written together,
atomically, once per campaign per batch; the totals item only when the batch changes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Protocol

from careforall.errors import NotFoundError
from careforall.money import from_cents

from totals_service.models import LedgerEntry, PaymentChange, TotalsOut

MAX_ATTEMPTS = 10
MAX_PAYMENTS_PER_WRITE = 99  # a DynamoDB transaction holds 100 items: the totals item and 99 ledger entries


@dataclass(frozen=True)
class CampaignDelta:
    campaign_id: str
    amount_cents: int
    pledge_count: int
    entries: list[tuple[LedgerEntry, int | None]]  # new entry, version it replaces (None: first time)
    correlation_ids: list[str] = field(default_factory=list)  # the donations this write includes, for ops

    @property
    def changes_totals(self) -> bool:
        """False when the payments moved without entering or leaving a counted state (PENDING to AUTHORIZED,
        CAPTURED to COMPLETED): then only their ledger entries are written, and the campaign's totals item, the
        hottest item of all, is left alone."""
        return self.amount_cents != 0 or self.pledge_count != 0


@dataclass(frozen=True)
class BatchResult:
    writes: dict[str, int]  # writes to each campaign's totals item: at most one, unless contended
    applied: list[PaymentChange]  # the changes the totals now include (repeats and older records left out)


class TotalsStore(Protocol):
    def ledger(self, payment_ids: list[str]) -> dict[str, LedgerEntry]: ...

    def apply(self, delta: CampaignDelta) -> bool:
        """Write the ledger entries, and add the delta to the totals when it changes them, atomically; False
        when an entry changed meanwhile."""

    def get(self, campaign_id: str) -> dict | None: ...


def fold(changes: Iterable[PaymentChange]) -> dict[str, list[PaymentChange]]:
    """Per campaign, the newest change of each payment in the batch (records of one item arrive in order)."""
    newest: dict[str, PaymentChange] = {}
    for change in changes:
        known = newest.get(change.payment_id)
        if known is None or change.version > known.version:
            newest[change.payment_id] = change
    campaigns: dict[str, list[PaymentChange]] = {}
    for change in newest.values():
        campaigns.setdefault(change.campaign_id, []).append(change)
    return campaigns


def delta_for(campaign_id: str, changes: list[PaymentChange], ledger: dict[str, LedgerEntry]) -> CampaignDelta:
    amount = count = 0
    entries, correlation_ids = [], []
    for change in changes:
        known = ledger.get(change.payment_id)
        if known is not None and known.version >= change.version:
            continue  # already included: a redelivered or older record
        was_counted = known.counted if known else False
        if change.counted != was_counted:
            sign = 1 if change.counted else -1
            amount += sign * change.amount_cents
            count += sign
        entries.append((LedgerEntry(payment_id=change.payment_id, campaign_id=campaign_id, version=change.version,
                                    counted=change.counted, amount_cents=change.amount_cents),
                        known.version if known else None))
        if change.correlation_id:
            correlation_ids.append(change.correlation_id)
    return CampaignDelta(campaign_id, amount, count, entries, correlation_ids)


class TotalsAggregator:
    def __init__(self, store: TotalsStore) -> None:
        self._store = store

    def apply_batch(self, changes: Iterable[PaymentChange]) -> BatchResult:
        """Apply a batch: at most one totals write per campaign (unless contended), each change at most once."""
        writes: dict[str, int] = {}
        applied: list[PaymentChange] = []
        for campaign_id, campaign_changes in fold(changes).items():
            for start in range(0, len(campaign_changes), MAX_PAYMENTS_PER_WRITE):
                chunk = campaign_changes[start:start + MAX_PAYMENTS_PER_WRITE]
                written, totals_written = self._apply(campaign_id, chunk)
                writes[campaign_id] = writes.get(campaign_id, 0) + (1 if totals_written else 0)
                applied += written
        return BatchResult(writes, applied)

    def _apply(self, campaign_id: str, changes: list[PaymentChange]) -> tuple[list[PaymentChange], bool]:
        """The changes written (none when all were already included), and whether the totals item was."""
        for _ in range(MAX_ATTEMPTS):
            delta = delta_for(campaign_id, changes, self._store.ledger([c.payment_id for c in changes]))
            if not delta.entries:
                return [], False
            if self._store.apply(delta):
                included = {entry.payment_id for entry, _ in delta.entries}
                return [c for c in changes if c.payment_id in included], delta.changes_totals
        raise RuntimeError(f"totals of campaign {campaign_id} kept changing underneath; the batch will be retried")


class TotalsReader:
    def __init__(self, store: TotalsStore) -> None:
        self._store = store

    def get(self, campaign_id: str) -> TotalsOut:
        item = self._store.get(campaign_id)
        if item is None:
            raise NotFoundError(f"Campaign {campaign_id} does not exist.")
        return TotalsOut(campaign_id=campaign_id, total_amount=from_cents(int(item.get("total_cents", 0))),
                         pledge_count=int(item.get("pledge_count", 0)),
                         goal_amount=from_cents(int(item.get("goal_cents", 0))),
                         currency=item.get("currency", "USD"), updated_at=item.get("updated_at", ""))
