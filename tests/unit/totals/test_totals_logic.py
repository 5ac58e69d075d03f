"""The aggregator's arithmetic over an in-memory TotalsStore: fold, per-payment deltas, one write per campaign."""

from __future__ import annotations

import pytest

from careforall.errors import NotFoundError

from totals_service.logic import MAX_ATTEMPTS, MAX_PAYMENTS_PER_WRITE, TotalsAggregator, TotalsReader, delta_for, fold
from totals_service.models import LedgerEntry

from totals_support import CAMPAIGN_A, CAMPAIGN_B, CAMPAIGN_C, change


def ledger_of(*entries: tuple[str, int, bool], amount_cents: int = 2500) -> dict[str, LedgerEntry]:
    return {p: LedgerEntry(payment_id=p, campaign_id=CAMPAIGN_A, version=v, counted=c, amount_cents=amount_cents)
            for p, v, c in entries}


# ---------------------------------------------------------------------------------------- fold
def test_fold_records_of_one_payment_keeps_newest_version():
    folded = fold([change("p1", "PENDING", 1), change("p1", "CAPTURED", 3), change("p1", "AUTHORIZED", 2)])

    assert folded == {CAMPAIGN_A: [change("p1", "CAPTURED", 3)]}


def test_fold_payments_of_several_campaigns_groups_by_campaign():
    folded = fold([change("p1", "CAPTURED", 3, CAMPAIGN_A), change("p2", "CAPTURED", 3, CAMPAIGN_B),
                   change("p3", "FAILED", 2, CAMPAIGN_A)])

    assert {c: sorted(x.payment_id for x in changes) for c, changes in folded.items()} == {
        CAMPAIGN_A: ["p1", "p3"], CAMPAIGN_B: ["p2"]}


def test_fold_repeated_record_keeps_one():
    folded = fold([change("p1", "CAPTURED", 3)] * 3)

    assert folded == {CAMPAIGN_A: [change("p1", "CAPTURED", 3)]}


# ---------------------------------------------------------------------------------------- delta
@pytest.mark.parametrize("state", ["CAPTURED", "COMPLETED"])
def test_delta_payment_entering_counted_state_counts_once(state):
    delta = delta_for(CAMPAIGN_A, [change("p1", state, 3)], {})

    assert (delta.amount_cents, delta.pledge_count) == (2500, 1)
    assert [(e.payment_id, e.version, e.counted, replaces) for e, replaces in delta.entries] == [("p1", 3, True, None)]


def test_delta_captured_to_completed_changes_nothing_but_the_ledger():
    delta = delta_for(CAMPAIGN_A, [change("p1", "COMPLETED", 4)], ledger_of(("p1", 3, True)))

    assert (delta.amount_cents, delta.pledge_count) == (0, 0)
    assert [(e.version, e.counted, replaces) for e, replaces in delta.entries] == [(4, True, 3)]


def test_delta_captured_to_failed_takes_the_pledge_back():
    delta = delta_for(CAMPAIGN_A, [change("p1", "FAILED", 4)], ledger_of(("p1", 3, True)))

    assert (delta.amount_cents, delta.pledge_count) == (-2500, -1)
    assert [(e.version, e.counted, replaces) for e, replaces in delta.entries] == [(4, False, 3)]


def test_delta_pending_to_failed_changes_nothing():
    delta = delta_for(CAMPAIGN_A, [change("p1", "FAILED", 2)], ledger_of(("p1", 1, False)))

    assert (delta.amount_cents, delta.pledge_count) == (0, 0)


def test_delta_failed_payment_seen_first_changes_nothing():
    delta = delta_for(CAMPAIGN_A, [change("p1", "FAILED", 2)], {})

    assert (delta.amount_cents, delta.pledge_count) == (0, 0)
    assert len(delta.entries) == 1  # the ledger still learns the version, so an older record stays a no-op


@pytest.mark.parametrize("version", [3, 2])
def test_delta_repeated_or_older_record_changes_nothing(version):
    delta = delta_for(CAMPAIGN_A, [change("p1", "CAPTURED", version)], ledger_of(("p1", 3, True)))

    assert (delta.amount_cents, delta.pledge_count, delta.entries) == (0, 0, [])


def test_delta_older_captured_after_failed_does_not_count_again():
    delta = delta_for(CAMPAIGN_A, [change("p1", "CAPTURED", 3)], ledger_of(("p1", 4, False)))

    assert (delta.amount_cents, delta.pledge_count, delta.entries) == (0, 0, [])


def test_delta_mixed_payments_sums_their_changes():
    ledger = ledger_of(("p2", 3, True), ("p3", 1, False))
    delta = delta_for(CAMPAIGN_A, [change("p1", "CAPTURED", 3, amount_cents=1000),
                                   change("p2", "FAILED", 4, amount_cents=2500),
                                   change("p3", "COMPLETED", 4, amount_cents=700)], ledger)

    assert (delta.amount_cents, delta.pledge_count) == (1000 - 2500 + 700, 1)


# ---------------------------------------------------------------------------------------- apply_batch
def test_apply_batch_30_payments_over_3_campaigns_writes_once_per_campaign(store):
    campaigns = [CAMPAIGN_A, CAMPAIGN_B, CAMPAIGN_C]
    batch = []
    for i in range(30):
        campaign = campaigns[i % 3]
        batch += [change(f"p{i}", "PENDING", 1, campaign, 100 + i), change(f"p{i}", "AUTHORIZED", 2, campaign, 100 + i),
                  change(f"p{i}", "CAPTURED", 3, campaign, 100 + i)]

    writes = TotalsAggregator(store).apply_batch(batch).writes

    assert writes == {CAMPAIGN_A: 1, CAMPAIGN_B: 1, CAMPAIGN_C: 1}
    assert len(store.applies) == 3
    for offset, campaign in enumerate(campaigns):
        amounts = [100 + i for i in range(offset, 30, 3)]
        assert store.total(campaign) == (sum(amounts), 10)


def test_apply_batch_delivered_twice_leaves_totals_unchanged(store):
    batch = [change("p1", "CAPTURED", 3), change("p2", "COMPLETED", 4, amount_cents=700),
             change("p3", "FAILED", 2, CAMPAIGN_B)]
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch(batch)
    first = {c: store.total(c) for c in (CAMPAIGN_A, CAMPAIGN_B)}

    writes = aggregator.apply_batch(batch).writes

    assert writes == {CAMPAIGN_A: 0, CAMPAIGN_B: 0}
    assert {c: store.total(c) for c in (CAMPAIGN_A, CAMPAIGN_B)} == first == {CAMPAIGN_A: (3200, 2),
                                                                               CAMPAIGN_B: (0, 0)}
    assert len(store.applies) == 2  # the repeat wrote nothing


def test_apply_batch_captured_then_failed_in_later_batch_takes_it_back(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "CAPTURED", 3)])

    aggregator.apply_batch([change("p1", "FAILED", 4)])

    assert store.total(CAMPAIGN_A) == (0, 0)


def test_apply_batch_records_out_of_order_across_batches_count_newest(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "COMPLETED", 4)])

    aggregator.apply_batch([change("p1", "AUTHORIZED", 2), change("p1", "CAPTURED", 3)])

    assert store.total(CAMPAIGN_A) == (2500, 1)


def test_apply_batch_with_stale_ledger_retries_and_counts_once(store):
    aggregator = TotalsAggregator(store)

    def other_writer_applies_same_payment():
        store.entries["p1"] = LedgerEntry(payment_id="p1", campaign_id=CAMPAIGN_A, version=3, counted=True,
                                          amount_cents=2500)
        store.totals[CAMPAIGN_A] = {"total_cents": 2500, "pledge_count": 1}

    store.before_apply = other_writer_applies_same_payment

    result = aggregator.apply_batch([change("p1", "CAPTURED", 3), change("p2", "CAPTURED", 3, amount_cents=500)])
    writes = result.writes

    assert writes == {CAMPAIGN_A: 1}
    assert len(store.applies) == 2  # the first was refused, the retry wrote
    assert len(store.ledger_reads) == 2  # the retry read the ledger again
    assert store.total(CAMPAIGN_A) == (3000, 2)


def test_apply_batch_always_stale_raises_so_the_batch_is_retried(store):
    class AlwaysStale(type(store)):
        def apply(self, delta):
            self.applies.append(delta)
            return False

    stale = AlwaysStale()

    with pytest.raises(RuntimeError, match="retried"):
        TotalsAggregator(stale).apply_batch([change("p1", "CAPTURED", 3)])

    assert len(stale.applies) == MAX_ATTEMPTS


def test_apply_batch_over_99_payments_of_one_campaign_splits_into_chunks(store):
    count = 2 * MAX_PAYMENTS_PER_WRITE + 5
    batch = [change(f"p{i}", "CAPTURED", 3, amount_cents=100) for i in range(count)]

    writes = TotalsAggregator(store).apply_batch(batch).writes

    assert writes == {CAMPAIGN_A: 3}
    assert [len(d.entries) for d in store.applies] == [MAX_PAYMENTS_PER_WRITE, MAX_PAYMENTS_PER_WRITE, 5]
    assert all(len(ids) <= MAX_PAYMENTS_PER_WRITE for ids in store.ledger_reads)
    assert store.total(CAMPAIGN_A) == (100 * count, count)


def test_apply_batch_of_only_repeats_writes_nothing(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "COMPLETED", 4)])
    applies = len(store.applies)

    result = aggregator.apply_batch([change("p1", "CAPTURED", 3), change("p1", "COMPLETED", 4)])
    writes = result.writes

    assert writes == {CAMPAIGN_A: 0}
    assert len(store.applies) == applies


def test_apply_batch_of_changes_counting_nothing_writes_the_ledger_but_not_the_totals(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "CAPTURED", 3)])

    result = aggregator.apply_batch([change("p1", "COMPLETED", 4), change("p2", "AUTHORIZED", 2)])

    assert result.writes == {CAMPAIGN_A: 0}
    assert [e.version for e, _ in store.applies[-1].entries] == [4, 2]
    assert not store.applies[-1].changes_totals
    assert store.total(CAMPAIGN_A) == (2500, 1)


def test_apply_batch_whose_changes_cancel_out_leaves_the_totals_alone(store):
    aggregator = TotalsAggregator(store)
    aggregator.apply_batch([change("p1", "CAPTURED", 3)])

    result = aggregator.apply_batch([change("p1", "FAILED", 4), change("p2", "CAPTURED", 3)])

    assert result.writes == {CAMPAIGN_A: 0}
    assert store.total(CAMPAIGN_A) == (2500, 1)
    assert {p: (e.version, e.counted) for p, e in store.entries.items()} == {"p1": (4, False), "p2": (3, True)}


def test_apply_batch_of_nothing_writes_nothing(store):
    result = TotalsAggregator(store).apply_batch([])

    assert (result.writes, result.applied) == ({}, [])
    assert store.applies == []


# ---------------------------------------------------------------------------------------- reader
def test_get_totals_of_known_campaign_returns_money_and_count(store):
    store.totals[CAMPAIGN_A] = {"total_cents": 123456, "pledge_count": 7, "goal_cents": 1000000, "currency": "EUR",
                                "updated_at": "2025-03-01T12:00:00Z"}

    totals = TotalsReader(store).get(CAMPAIGN_A).model_dump(mode="json")

    assert totals == {"campaign_id": CAMPAIGN_A, "total_amount": "1234.56", "pledge_count": 7,
                      "goal_amount": "10000.00", "currency": "EUR", "updated_at": "2025-03-01T12:00:00Z"}


def test_get_totals_of_unknown_campaign_raises_not_found(store):
    with pytest.raises(NotFoundError):
        TotalsReader(store).get(CAMPAIGN_A)
