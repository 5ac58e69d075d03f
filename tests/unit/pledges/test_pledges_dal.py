"""DynamoPledgeRepository over moto: the one-transaction create under concurrency, its cancellation reasons, and
the listings (a campaign's pledges by index, kept current by the payment projector's writes)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from careforall import contention
from careforall.errors import ServiceBusyError, ValidationFailedError
from botocore.exceptions import ClientError

from payments_service.dal import DynamoPledgeProjection
from pledges_service.dal import DynamoCampaignDirectory, DynamoPledgeRepository
from pledges_service.logic import CampaignRef, CreateOutcome, PledgesService
from pledges_service.models import CreatePledgeRequest, PledgeRecord, PledgeStatus

KEY = "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b"
OWNER = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8"
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
    invalid = DynamoPledgeRepository(tables["PledgesTable"], tables["CampaignsTable"],
                                     client=CancellingClient("None", "ValidationError"))

    with pytest.raises(ClientError):
        invalid.create(_any_record("c"))


# ------------------------------------------------------------------------------------------ contention
def cancelled(*codes: str) -> ClientError:
    return ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                        "CancellationReasons": [{"Code": code} for code in codes]}, "TransactWriteItems")


def throttled(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "TransactWriteItems")


class ScriptedClient:
    """TransactWriteItems answers from a script: an error to raise, or None for a write that succeeds."""

    def __init__(self, *answers: ClientError | None) -> None:
        self.answers = list(answers)
        self.calls = 0

    def transact_write_items(self, **_):
        self.calls += 1
        answer = self.answers.pop(0)
        if answer is not None:
            raise answer


@pytest.fixture
def waits() -> list[float]:
    return []


def scripted_repo(client: ScriptedClient, waits: list[float]) -> DynamoPledgeRepository:
    backoff = contention.Backoff(attempts=4, sleep=waits.append, uniform=lambda: 1.0)
    return DynamoPledgeRepository("PledgesTable", "CampaignsTable", client=client, backoff=backoff)


@pytest.mark.parametrize("answer", [cancelled("TransactionConflict", "None"), cancelled("ThrottlingError", "None"),
                                    cancelled("None", "ThrottlingError"),
                                    cancelled("ProvisionedThroughputExceeded", "None"),
                                    cancelled("RequestLimitExceeded", "None"), throttled("ThrottlingException"),
                                    throttled("ProvisionedThroughputExceededException")],
                         ids=["campaign conflict", "campaign throttled", "pledge throttled", "over capacity",
                              "request limit", "throttling exception", "throughput exception"])
def test_create_contended_then_written_retries_and_returns_created(answer, waits):
    client = ScriptedClient(answer, answer, None)

    result = scripted_repo(client, waits).create(_any_record("c"))

    assert result.outcome is CreateOutcome.CREATED
    assert client.calls == 3 and len(waits) == 2


@pytest.mark.parametrize("answer", [cancelled("TransactionConflict", "None"), throttled("ThrottlingException")],
                         ids=["conflict", "throttled"])
def test_create_contended_past_every_retry_raises_service_busy_with_retry_after(answer, waits):
    client = ScriptedClient(answer, answer, answer, answer)

    with pytest.raises(ServiceBusyError) as raised:
        scripted_repo(client, waits).create(_any_record("c"))

    assert (raised.value.status, raised.value.headers) == (503, {"Retry-After": "1"})
    assert client.calls == 4


def test_create_conflict_backs_off_sooner_than_throttling(waits):
    scripted_repo(ScriptedClient(cancelled("TransactionConflict", "None"), None), waits).create(_any_record("c"))
    scripted_repo(ScriptedClient(cancelled("ThrottlingError", "None"), None), waits).create(_any_record("c"))

    conflict_wait, throttle_wait = waits
    assert conflict_wait < throttle_wait


@pytest.mark.parametrize("answer,outcome", [
    (cancelled("ConditionalCheckFailed", "None"), CreateOutcome.CAMPAIGN_NOT_ACTIVE),
    (cancelled("None", "TransactionConflict"), CreateOutcome.IN_FLIGHT),
    (cancelled("TransactionConflict", "TransactionConflict"), CreateOutcome.IN_FLIGHT),
    (cancelled("ConditionalCheckFailed", "TransactionConflict"), CreateOutcome.IN_FLIGHT),
], ids=["campaign closed", "same key in flight", "both in flight", "closed and in flight"])
def test_create_refused_with_an_answer_returns_it_without_retrying(answer, outcome, waits):
    client = ScriptedClient(answer)

    assert scripted_repo(client, waits).create(_any_record("c")).outcome is outcome
    assert client.calls == 1 and waits == []


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


def test_campaign_directory_find_reads_each_campaign_once(pledges_stack):
    campaign_id = pledges_stack.put_campaign(currency="EUR")
    calls = []
    client = pledges_stack.stack.dynamodb

    class CountingClient:
        def get_item(self, **kwargs):
            calls.append(kwargs)
            return client.get_item(**kwargs)

    directory = DynamoCampaignDirectory(pledges_stack.stack.tables["CampaignsTable"], client=CountingClient())

    assert [directory.find(campaign_id).currency for _ in range(3)] == ["EUR"] * 3
    assert directory.find("no-such-campaign") is None
    assert len(calls) == 2


def test_campaign_directory_find_returns_owner_and_currency(pledges_stack):
    campaign_id = pledges_stack.put_campaign(currency="EUR", owner_id=OWNER)
    tables, client = pledges_stack.stack.tables, pledges_stack.stack.dynamodb
    directory = DynamoCampaignDirectory(tables["CampaignsTable"], client=client)

    assert directory.find(campaign_id) == CampaignRef(id=campaign_id, owner_id=OWNER, currency="EUR")


# ------------------------------------------------------------------------------------------ a campaign's pledges
def _put_pledges(repo, campaign_id: str, count: int, first: int = 0) -> list[str]:
    """`count` pledges of `campaign_id`, one second apart (ids in creation order)."""
    ids = []
    for i in range(first, first + count):
        record = _any_record(campaign_id).model_copy(update={
            "id": f"00000000-0000-5000-8000-{i:012d}", "created_at": f"2025-03-01T12:00:{i:02d}.000Z"})
        assert repo.create(record).outcome is CreateOutcome.CREATED
        ids.append(record.id)
    return ids


def _project(pledges_stack, pledge_id: str, campaign_id: str, status: str, version: int = 1) -> None:
    """Move a pledge's status the way the payment projector does (its own DAL, the same table)."""
    projection = DynamoPledgeProjection(pledges_stack.stack.tables["PledgesTable"], client=pledges_stack.stack.dynamodb)
    view = {"id": "pay-1", "state": status, "provider_ref": None, "updated_at": "2025-03-01T13:00:00.000Z"}
    assert projection.project(pledge_id, campaign_id, status, view, version)


def test_create_stores_campaign_status_key_of_pending(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()

    [pledge_id] = _put_pledges(repo, campaign_id, 1)

    item = pledges_stack.stack.get_item("PledgesTable", {"pk": f"PLEDGE#{pledge_id}"})
    assert item["campaign_status"] == f"{campaign_id}#PENDING"


def test_get_does_not_expose_campaign_status_key(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    [pledge_id] = _put_pledges(repo, campaign_id, 1)

    assert "campaign_status" not in repo.get(pledge_id).model_dump()


def test_by_campaign_lists_only_that_campaign_newest_first(pledges_stack, repo):
    campaign_id, other_id = pledges_stack.put_campaign(), pledges_stack.put_campaign()
    ids = _put_pledges(repo, campaign_id, 3)
    _put_pledges(repo, other_id, 2, first=3)

    page = repo.by_campaign(campaign_id, None, limit=10, cursor=None)

    assert [r.id for r in page.records] == ids[::-1]


def test_by_campaign_pages_with_cursor_through_every_pledge_once(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    ids = _put_pledges(repo, campaign_id, 5)

    seen, cursor = [], None
    for _ in range(5):
        page = repo.by_campaign(campaign_id, None, limit=2, cursor=cursor)
        seen += [r.id for r in page.records]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == ids[::-1]


def test_by_campaign_uses_its_index_and_never_scans(pledges_stack):
    tables, client = pledges_stack.stack.tables, pledges_stack.stack.dynamodb
    calls = []

    class RecordingClient:
        def __getattr__(self, name):
            method = getattr(client, name)

            def call(**kwargs):
                calls.append((name, kwargs))
                return method(**kwargs)
            return call

    repo = DynamoPledgeRepository(tables["PledgesTable"], tables["CampaignsTable"], client=RecordingClient())
    campaign_id = pledges_stack.put_campaign()

    repo.by_campaign(campaign_id, None, limit=5, cursor=None)
    repo.by_campaign(campaign_id, PledgeStatus.FAILED, limit=5, cursor=None)

    assert [(name, kwargs.get("IndexName"), "FilterExpression" in kwargs) for name, kwargs in calls] == [
        ("query", "by_campaign", False), ("query", "by_campaign_status", False)]


def test_by_campaign_with_status_lists_only_pledges_in_that_status(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    first, second, third = _put_pledges(repo, campaign_id, 3)
    _project(pledges_stack, first, campaign_id, "COMPLETED")
    _project(pledges_stack, third, campaign_id, "FAILED")

    listed = {status: [r.id for r in repo.by_campaign(campaign_id, status, limit=10, cursor=None).records]
              for status in PledgeStatus}

    assert listed == {PledgeStatus.PENDING: [second], PledgeStatus.COMPLETED: [first], PledgeStatus.FAILED: [third]}


def test_by_campaign_with_status_after_projection_returns_record_with_new_status(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    [pledge_id] = _put_pledges(repo, campaign_id, 1)
    _project(pledges_stack, pledge_id, campaign_id, "COMPLETED")

    [record] = repo.by_campaign(campaign_id, PledgeStatus.COMPLETED, limit=10, cursor=None).records

    assert (record.id, record.status, record.payment.state) == (pledge_id, PledgeStatus.COMPLETED, "COMPLETED")


def test_by_campaign_with_status_pages_with_cursor(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    ids = _put_pledges(repo, campaign_id, 3)

    first = repo.by_campaign(campaign_id, PledgeStatus.PENDING, limit=2, cursor=None)
    second = repo.by_campaign(campaign_id, PledgeStatus.PENDING, limit=2, cursor=first.next_cursor)

    assert [r.id for r in first.records + second.records] == ids[::-1]


def test_by_campaign_with_cursor_of_other_campaign_raises_validation_error(pledges_stack, repo):
    campaign_id, other_id = pledges_stack.put_campaign(), pledges_stack.put_campaign()
    _put_pledges(repo, campaign_id, 2)
    _put_pledges(repo, other_id, 2, first=2)
    other_cursor = repo.by_campaign(other_id, None, limit=1, cursor=None).next_cursor

    with pytest.raises(ValidationFailedError):
        repo.by_campaign(campaign_id, None, limit=10, cursor=other_cursor)


def test_by_campaign_with_cursor_of_other_status_raises_validation_error(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    ids = _put_pledges(repo, campaign_id, 4)
    _project(pledges_stack, ids[0], campaign_id, "FAILED")
    _project(pledges_stack, ids[1], campaign_id, "FAILED")
    failed_cursor = repo.by_campaign(campaign_id, PledgeStatus.FAILED, limit=1, cursor=None).next_cursor

    with pytest.raises(ValidationFailedError):
        repo.by_campaign(campaign_id, PledgeStatus.PENDING, limit=10, cursor=failed_cursor)


@pytest.mark.parametrize(("issued_by", "used_with"), [(None, PledgeStatus.PENDING), (PledgeStatus.PENDING, None)])
def test_by_campaign_with_cursor_of_other_index_raises_validation_error(pledges_stack, repo, issued_by, used_with):
    campaign_id = pledges_stack.put_campaign()
    _put_pledges(repo, campaign_id, 3)
    cursor = repo.by_campaign(campaign_id, issued_by, limit=1, cursor=None).next_cursor

    with pytest.raises(ValidationFailedError):
        repo.by_campaign(campaign_id, used_with, limit=10, cursor=cursor)


def test_by_campaign_with_cursor_of_donor_history_raises_validation_error(pledges_stack, repo):
    campaign_id = pledges_stack.put_campaign()
    for i in range(2):
        record = _any_record(campaign_id).model_copy(update={
            "id": f"00000000-0000-5000-8000-00000000000{i}", "donor_id": "donor-a",
            "created_at": f"2025-03-01T12:00:0{i}.000Z"})
        repo.create(record)
    donor_cursor = repo.by_donor("donor-a", limit=1, cursor=None).next_cursor

    with pytest.raises(ValidationFailedError):
        repo.by_campaign(campaign_id, None, limit=10, cursor=donor_cursor)
