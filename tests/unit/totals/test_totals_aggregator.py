"""The totals aggregator and DynamoTotalsStore over moto: payments-stream events (as Lambda delivers them) in,
each campaign's totals item and the ledger out."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from careforall import dynamo

from totals_service.dal import DynamoTotalsStore
from totals_service.logic import CampaignDelta
from totals_service.models import LedgerEntry

from totals_support import event_image, payment_image


def lifecycle(payment_id: str, campaign_id: str, amount_cents: int, final: str) -> list[dict]:
    """The payment images the payments table's stream shows for one payment, oldest first."""
    states = {"COMPLETED": ["PENDING", "AUTHORIZED", "CAPTURED", "COMPLETED"],
              "FAILED": ["PENDING", "FAILED"],
              "REFUSED_AFTER_CAPTURE": ["PENDING", "AUTHORIZED", "CAPTURED", "FAILED"]}[final]
    return [payment_image(payment_id, state, version, campaign_id, amount_cents)
            for version, state in enumerate(states, start=1)]


@pytest.fixture
def campaigns(totals_stack) -> tuple[str, str]:
    return totals_stack.put_campaign(), totals_stack.put_campaign()


@pytest.fixture
def mixed_batch(totals_stack, campaigns) -> list[dict]:
    """Campaign 1: 1000 + 250 completed, one failed at authorization; campaign 2: 4000 completed, 900 taken back."""
    first, second = campaigns
    p = [str(uuid.uuid4()) for _ in range(5)]
    images = (lifecycle(p[0], first, 1000, "COMPLETED") + lifecycle(p[1], first, 250, "COMPLETED")
              + lifecycle(p[2], first, 777, "FAILED") + lifecycle(p[3], second, 4000, "COMPLETED")
              + lifecycle(p[4], second, 900, "REFUSED_AFTER_CAPTURE") + [event_image(p[0], "COMPLETED")])
    return totals_stack.payment_records(*images)


def totals_of(totals_stack, campaign_id: str) -> tuple[int, int]:
    item = totals_stack.totals_item(campaign_id)
    return int(item["total_cents"]), int(item["pledge_count"])


@pytest.fixture
def transact_spy(totals_stack, monkeypatch) -> list[list[dict]]:
    """Every TransactWriteItems request of the functions' shared DynamoDB client (passed through to moto)."""
    client = dynamo.client()
    calls: list[list[dict]] = []
    real = client.transact_write_items

    def spy(**kwargs):
        calls.append(kwargs["TransactItems"])
        return real(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", spy)
    return calls


def totals_writes(calls: list[list[dict]], totals_table: str) -> Counter:
    """How often each campaign's totals item was written."""
    return Counter(dynamo.from_item(item["Update"]["Key"])["campaign_id"] for call in calls for item in call
                   if "Update" in item and item["Update"]["TableName"] == totals_table)


# ---------------------------------------------------------------------------------------- handler
def test_aggregate_mixed_batch_counts_captured_or_completed_payments(totals_stack, campaigns, mixed_batch):
    result = totals_stack.aggregate(*mixed_batch)

    assert result == {"batchItemFailures": []}
    assert totals_of(totals_stack, campaigns[0]) == (1250, 2)
    assert totals_of(totals_stack, campaigns[1]) == (4000, 1)


def test_aggregate_duplicated_batch_leaves_totals_unchanged(totals_stack, campaigns, mixed_batch):
    totals_stack.aggregate(*mixed_batch)
    first = [totals_stack.totals_item(c) for c in campaigns]

    totals_stack.aggregate(*mixed_batch)
    totals_stack.aggregate(*mixed_batch[: len(mixed_batch) // 2])  # and a redelivered half

    assert [totals_stack.totals_item(c) for c in campaigns] == first
    assert totals_of(totals_stack, campaigns[0]) == (1250, 2)


def test_aggregate_batch_writes_each_campaign_totals_once(totals_stack, campaigns, mixed_batch, transact_spy):
    totals_stack.aggregate(*mixed_batch)

    assert totals_writes(transact_spy, totals_stack.table("TotalsTable")) == {campaigns[0]: 1, campaigns[1]: 1}
    assert len(transact_spy) == 2


def test_aggregate_changes_that_count_nothing_leave_the_totals_item_alone(totals_stack, campaigns, transact_spy):
    # GIVEN a payment already counted (CAPTURED), and another only authorized
    counted, authorized = str(uuid.uuid4()), str(uuid.uuid4())
    totals_stack.aggregate(*totals_stack.payment_records(payment_image(counted, "CAPTURED", 3, campaigns[0], 800)))
    before, calls = totals_stack.totals_item(campaigns[0]), len(transact_spy)

    # WHEN the first completes and the second is authorized: no pledge enters or leaves the totals
    totals_stack.aggregate(*totals_stack.payment_records(payment_image(counted, "COMPLETED", 4, campaigns[0], 800),
                                                         payment_image(authorized, "AUTHORIZED", 2, campaigns[0])))

    # THEN the ledger learns both versions in one write that leaves the campaign's totals item out
    assert totals_writes(transact_spy[calls:], totals_stack.table("TotalsTable")) == {}
    assert len(transact_spy) == calls + 1
    assert totals_stack.totals_item(campaigns[0]) == before
    ledger = DynamoTotalsStore(totals_stack.table("TotalsTable"), totals_stack.table("TotalsLedgerTable"),
                               client=totals_stack.dynamodb).ledger([counted, authorized])
    assert {p: e.version for p, e in ledger.items()} == {counted: 4, authorized: 2}


def test_aggregate_duplicated_batch_writes_nothing_again(totals_stack, campaigns, mixed_batch, transact_spy):
    totals_stack.aggregate(*mixed_batch)

    totals_stack.aggregate(*mixed_batch)

    assert len(transact_spy) == 2  # the first delivery's two writes only


def test_aggregate_batch_split_at_any_point_sums_like_one_batch(totals_stack, campaigns, mixed_batch):
    for start in range(0, len(mixed_batch), 4):  # Lambda's bisection and partial retries
        totals_stack.aggregate(*mixed_batch[start:start + 4])
    totals_stack.aggregate(*mixed_batch)

    assert totals_of(totals_stack, campaigns[0]) == (1250, 2)
    assert totals_of(totals_stack, campaigns[1]) == (4000, 1)


def test_aggregate_records_of_other_items_changes_nothing(totals_stack, campaigns, transact_spy):
    payment_id = str(uuid.uuid4())
    records = totals_stack.payment_records(event_image(payment_id, "CAPTURED"))
    removal = totals_stack.payment_records(payment_image(payment_id, "CAPTURED", 3, campaigns[0]))[0]
    removal["eventName"] = "REMOVE"
    removal["dynamodb"]["OldImage"] = removal["dynamodb"].pop("NewImage")

    assert totals_stack.aggregate(*records, removal) == {"batchItemFailures": []}

    assert transact_spy == []
    assert totals_of(totals_stack, campaigns[0]) == (0, 0)


def test_aggregate_keeps_goal_currency_of_campaign_totals_item(totals_stack, campaigns, mixed_batch):
    before = totals_stack.totals_item(campaigns[0])

    totals_stack.aggregate(*mixed_batch)

    after = totals_stack.totals_item(campaigns[0])
    assert (after["goal_cents"], after["currency"]) == (before["goal_cents"], before["currency"])
    assert after["updated_at"] >= before["updated_at"]


# ---------------------------------------------------------------------------------------- DynamoTotalsStore
@pytest.fixture
def dal(totals_stack) -> DynamoTotalsStore:
    return DynamoTotalsStore(totals_stack.table("TotalsTable"), totals_stack.table("TotalsLedgerTable"),
                             client=totals_stack.dynamodb)


def entry(payment_id: str, campaign_id: str, version: int, counted: bool, amount_cents: int = 500) -> LedgerEntry:
    return LedgerEntry(payment_id=payment_id, campaign_id=campaign_id, version=version, counted=counted,
                       amount_cents=amount_cents)


def test_apply_new_entries_adds_delta_and_writes_ledger(dal, campaigns):
    applied = dal.apply(CampaignDelta(campaigns[0], 500, 1, [(entry("p1", campaigns[0], 3, True), None)]))

    assert applied is True
    assert dal.get(campaigns[0])["total_cents"] == 500
    assert dal.ledger(["p1", "p2"]) == {"p1": entry("p1", campaigns[0], 3, True)}


def test_apply_with_stale_replaced_version_writes_nothing_and_returns_false(dal, campaigns):
    dal.apply(CampaignDelta(campaigns[0], 500, 1, [(entry("p1", campaigns[0], 3, True), None)]))

    stale = dal.apply(CampaignDelta(campaigns[0], -500, -1, [(entry("p1", campaigns[0], 4, False), 2)]))
    again = dal.apply(CampaignDelta(campaigns[0], 500, 1, [(entry("p1", campaigns[0], 3, True), None)]))

    assert (stale, again) == (False, False)
    assert (dal.get(campaigns[0])["total_cents"], dal.get(campaigns[0])["pledge_count"]) == (500, 1)
    assert dal.ledger(["p1"])["p1"].version == 3


def test_apply_with_current_replaced_version_moves_entry_on(dal, campaigns):
    dal.apply(CampaignDelta(campaigns[0], 500, 1, [(entry("p1", campaigns[0], 3, True), None)]))

    applied = dal.apply(CampaignDelta(campaigns[0], -500, -1, [(entry("p1", campaigns[0], 4, False), 3)]))

    assert applied is True
    assert (dal.get(campaigns[0])["total_cents"], dal.get(campaigns[0])["pledge_count"]) == (0, 0)
    assert dal.ledger(["p1"])["p1"] == entry("p1", campaigns[0], 4, False)


def test_ledger_of_a_full_chunk_with_repeated_ids_reads_each_once(dal, campaigns):
    ids = [f"p{i}" for i in range(99)]
    dal.apply(CampaignDelta(campaigns[0], 0, 0, [(entry(p, campaigns[0], 1, False), None) for p in ids]))

    found = dal.ledger(ids + ids[:3] + ["unknown"])

    assert set(found) == set(ids)


def test_get_unknown_campaign_returns_none(dal):
    assert dal.get(str(uuid.uuid4())) is None
