"""DynamoPledgeRepository over moto: the one-transaction create under concurrency, and its cancellation reasons."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from careforall.errors import ValidationFailedError
from botocore.exceptions import ClientError

from pledges_service.dal import DynamoCampaignDirectory, DynamoPledgeRepository
from pledges_service.logic import CreateOutcome, PledgesService
from pledges_service.models import CreatePledgeRequest, PledgeRecord

KEY = "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b"
REQUEST = CreatePledgeRequest(amount="25.00", donor_email="guest@example.com")


@pytest.fixture
def atomic_moto(monkeypatch):
    """Make each moto request atomic, as each DynamoDB request is.

    In process, moto is not thread-safe for this: a cancelled TransactWriteItems restores a deep copy of
    every table it touched, wiping what other threads wrote meanwhile (seen as a second "created" reply).
    The Powertools resolver is not thread-safe either (it keeps the current event on the class), which is
    why the handler tests repeat the same key in sequence and the concurrent test runs here.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    dispatch = BotocoreStubber.__call__

    def atomic(self, *args, **kwargs):
        with lock:
            return dispatch(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)


@pytest.fixture
def repo(pledges_stack) -> DynamoPledgeRepository:
    tables = pledges_stack.stack.tables
    return DynamoPledgeRepository(tables["PledgesTable"], tables["CampaignsTable"], client=pledges_stack.stack.dynamodb)


@pytest.fixture
def dynamo_service(pledges_stack, repo, mailer, counters, lookup_tokens) -> PledgesService:
    tables, client = pledges_stack.stack.tables, pledges_stack.stack.dynamodb
    directory = DynamoCampaignDirectory(tables["CampaignsTable"], client=client)
    return PledgesService(pledges=repo, campaigns=directory, mailer=mailer, counters=counters,
                          lookup_tokens=lookup_tokens, web_app_url="https://app.careforall.org")


class CancellingClient:
    """A DynamoDB client whose TransactWriteItems is cancelled with the given per-item reason codes."""

    def __init__(self, *codes: str) -> None:
        self.codes = codes

    def transact_write_items(self, **_):
        raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                           "CancellationReasons": [{"Code": code} for code in self.codes]}, "TransactWriteItems")


# ------------------------------------------------------------------------------------------ concurrency
def test_create_twenty_concurrent_same_key_store_one_pledge(pledges_stack, dynamo_service, atomic_moto):
    # GIVEN an active campaign and 20 threads ready to send the same request with the same key
    campaign_id = pledges_stack.put_campaign()
    start = threading.Barrier(20)

    def create(_):
        start.wait()
        return dynamo_service.create(None, campaign_id, KEY, REQUEST)

    # WHEN they all create at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(create, range(20)))

    # THEN one pledge exists, one reply created it and 19 replayed its response
    assert len(pledges_stack.pledge_items()) == 1
    assert sorted(r.replayed for r in replies) == [False] + [True] * 19
    assert len({r.pledge_id for r in replies}) == 1
    assert len({r.body for r in replies}) == 1
    assert {r.status for r in replies} == {201}


def test_create_twenty_concurrent_distinct_keys_store_twenty_pledges(pledges_stack, dynamo_service, atomic_moto):
    campaign_id = pledges_stack.put_campaign()
    start = threading.Barrier(20)

    def create(i):
        start.wait()
        return dynamo_service.create(None, campaign_id, f"key-{i}", REQUEST)

    with ThreadPoolExecutor(max_workers=20) as pool:
        replies = list(pool.map(create, range(20)))

    assert not any(r.replayed for r in replies)
    assert len(pledges_stack.pledge_items()) == 20


# ------------------------------------------------------------------------------------------ one transaction
def test_create_existing_id_returns_exists_with_stored_record(pledges_stack, dynamo_service, repo):
    campaign_id = pledges_stack.put_campaign()
    reply = dynamo_service.create(None, campaign_id, KEY, REQUEST)
    stored = repo.get(reply.pledge_id)

    result = repo.create(stored.model_copy(update={"fingerprint": "another"}))

    assert result.outcome is CreateOutcome.EXISTS
    assert result.existing == stored


def test_create_existing_id_on_closed_campaign_returns_exists(pledges_stack, dynamo_service, repo):
    # both conditions fail: the pledge's own reason is read first, so a replay still gets its response
    campaign_id = pledges_stack.put_campaign()
    reply = dynamo_service.create(None, campaign_id, KEY, REQUEST)
    pledges_stack.set_campaign_status(campaign_id, "CANCELLED")

    result = repo.create(repo.get(reply.pledge_id))

    assert result.outcome is CreateOutcome.EXISTS


def test_create_on_closed_campaign_returns_campaign_not_active_and_writes_nothing(pledges_stack, dynamo_service,
                                                                                  repo):
    campaign_id = pledges_stack.put_campaign()
    reply = dynamo_service.create(None, campaign_id, KEY, REQUEST)
    record = repo.get(reply.pledge_id)
    pledges_stack.set_campaign_status(campaign_id, "COMPLETED")

    result = repo.create(record.model_copy(update={"id": "00000000-0000-5000-8000-000000000000"}))

    assert result.outcome is CreateOutcome.CAMPAIGN_NOT_ACTIVE
    assert len(pledges_stack.pledge_items()) == 1


def test_create_cancelled_by_conflict_on_pledge_item_returns_in_flight(pledges_stack):
    # DynamoDB cancels a transaction on an item another transaction is writing (the same key in flight)
    tables = pledges_stack.stack.tables
    conflicted = DynamoPledgeRepository(tables["PledgesTable"], tables["CampaignsTable"],
                                        client=CancellingClient("None", "TransactionConflict"))
    campaign_id = pledges_stack.put_campaign()
    record = _any_record(campaign_id)

    assert conflicted.create(record).outcome is CreateOutcome.IN_FLIGHT


def test_create_cancelled_for_unknown_reason_raises(pledges_stack):
    tables = pledges_stack.stack.tables
    throttled = DynamoPledgeRepository(tables["PledgesTable"], tables["CampaignsTable"],
                                       client=CancellingClient("None", "ThrottlingError"))

    with pytest.raises(ClientError):
        throttled.create(_any_record("c"))


def _any_record(campaign_id: str) -> PledgeRecord:
    return PledgeRecord(id="3d6a1f52-9c4e-5b7a-8e21-4f0c9b7d2a61", campaign_id=campaign_id,
                        donor_email="guest@example.com", amount_cents=2500, currency="USD",
                        payment_method="pm_card_visa", created_at="2025-03-01T12:00:00.000Z",
                        updated_at="2025-03-01T12:00:00.000Z", scope="guest", fingerprint="f",
                        receipt_token_hash="h", response_body="{}")


# ------------------------------------------------------------------------------------------ listings
def test_by_donor_with_cursor_of_other_donor_raises_validation_error(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    for i, donor in enumerate(["donor-a", "donor-a", "donor-b", "donor-b"]):
        record = _any_record(campaign_id).model_copy(update={
            "id": f"00000000-0000-5000-8000-00000000000{i}", "donor_id": donor,
            "created_at": f"2025-03-01T12:00:0{i}.000Z"})
        assert repo.create(record).outcome is CreateOutcome.CREATED
    other_cursor = repo.by_donor("donor-b", limit=1, cursor=None).next_cursor

    with pytest.raises(ValidationFailedError):
        repo.by_donor("donor-a", limit=10, cursor=other_cursor)


def test_campaign_directory_reads_currency_once(pledges_stack):
    campaign_id = pledges_stack.put_campaign(currency="EUR")
    calls = []
    client = pledges_stack.stack.dynamodb

    class CountingClient:
        def get_item(self, **kwargs):
            calls.append(kwargs)
            return client.get_item(**kwargs)

    directory = DynamoCampaignDirectory(pledges_stack.stack.tables["CampaignsTable"], client=CountingClient())

    assert [directory.currency_of(campaign_id) for _ in range(3)] == ["EUR"] * 3
    assert directory.currency_of("no-such-campaign") is None
    assert len(calls) == 2
