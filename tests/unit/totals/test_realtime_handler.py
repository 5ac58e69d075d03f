"""RealtimeFunction over moto: pledges- and totals-stream records in; WebSocket pushes, one receipt per completed
pledge and one goal note per campaign out. Sockets are a fake @connections client; mail is moto's SES (v2)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.exceptions import ClientError

from totals_support import stream_record

SENDER = "noreply@careforall.local"  # the template's SenderEmail, an AWS::SES::EmailIdentity provisioned in moto


class FakeSockets:
    """The apigatewaymanagementapi client: PostToConnection to open ids, 410 GoneException for the rest."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.posts: list[tuple[str, dict]] = []
        self.error_code: str | None = None  # answer every post with this error instead

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict:  # noqa: N803 - boto3's names
        if self.error_code:
            raise ClientError({"Error": {"Code": self.error_code, "Message": "boom"},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, "PostToConnection")
        if ConnectionId not in self.open:
            raise ClientError({"Error": {"Code": "GoneException", "Message": f"{ConnectionId} is gone"},
                               "ResponseMetadata": {"HTTPStatusCode": 410}}, "PostToConnection")
        self.posts.append((ConnectionId, json.loads(Data)))
        return {}

    def messages(self, connection_id: str) -> list[dict]:
        return [m for c, m in self.posts if c == connection_id]


def use_sender(totals_stack, monkeypatch, sender: str) -> None:
    """Send from `sender` from now on (moto rejects an address that is no verified identity)."""
    realtime = totals_stack.realtime
    monkeypatch.setattr(realtime, "SETTINGS", realtime.SETTINGS.model_copy(update={"sender_email": sender}))
    for name in ("mailer", "mail"):  # the cached SES client or mailer holds the sender
        cached = getattr(realtime, name, None)
        if hasattr(cached, "cache_clear"):
            cached.cache_clear()


@pytest.fixture
def sockets(totals_stack, monkeypatch) -> FakeSockets:
    fake = FakeSockets()
    monkeypatch.setattr(totals_stack.realtime, "sockets", lambda: fake)
    return fake


@pytest.fixture
def owner(totals_stack) -> dict[str, str]:
    return totals_stack.stack.seed_user(email=f"owner-{uuid.uuid4().hex[:8]}@example.com", role="ADMIN")


@pytest.fixture
def campaign(totals_stack, owner) -> str:
    return totals_stack.put_campaign(goal_cents=10_000, owner_id=owner["user_id"])


def connect(totals_stack, sockets: FakeSockets, connection_id: str, campaign_id: str | None = None,
            user_id: str | None = None, pledge_id: str | None = None, connected_at: int | None = None) -> dict:
    """A connection as SocketsFunction stores it (written directly: no token needed here); returns its item."""
    from careforall import dynamo

    item = {"connection_id": connection_id, "connected_at": int(time.time()) if connected_at is None else connected_at,
            "expires_at": 4_000_000_000, "campaign_id": campaign_id, "user_id": user_id, "pledge_id": pledge_id}
    item = {k: v for k, v in item.items() if v is not None}
    totals_stack.dynamodb.put_item(TableName=totals_stack.table("ConnectionsTable"), Item=dynamo.to_item(item))
    sockets.open.add(connection_id)
    return item


# ---------------------------------------------------------------------------------------- pledges stream
class Pledges:
    """Pledge items in the pledges table, and the stream records of their changes."""

    def __init__(self, totals_stack, campaign_id: str) -> None:
        self.stack = totals_stack
        self.campaign_id = campaign_id
        self.arn = totals_stack.stream_arn("PledgesTable")

    def image(self, pledge_id: str, status: str, payment_state: str | None, donor_id: str | None = None,
              donor_email: str = "donor@example.com", amount_cents: int = 2500) -> dict:
        payment = None if payment_state is None else {
            "id": f"pay-{pledge_id}", "state": payment_state, "provider_ref": f"ch_{pledge_id[:8]}",
            "updated_at": "2025-03-01T12:00:02Z"}
        return {"pk": f"PLEDGE#{pledge_id}", "entity": "PLEDGE", "id": pledge_id, "campaign_id": self.campaign_id,
                "donor_id": donor_id, "donor_email": donor_email, "amount_cents": amount_cents, "currency": "USD",
                "payment_method": "pm_card_visa", "status": status, "payment": payment,
                "created_at": "2025-03-01T12:00:00Z", "updated_at": "2025-03-01T12:00:02Z"}

    def store(self, image: dict) -> None:
        from careforall import dynamo

        self.stack.dynamodb.put_item(TableName=self.stack.table("PledgesTable"), Item=dynamo.to_item(image))

    def change(self, old: dict | None, new: dict) -> dict:
        """Store `new` and return its stream record (with `old` as the old image)."""
        self.store(new)
        return stream_record(self.arn, {k: v for k, v in new.items() if v is not None},
                             None if old is None else {k: v for k, v in old.items() if v is not None})

    def completion(self, pledge_id: str, **fields) -> dict:
        """The record of a pledge moving from PENDING (payment CAPTURED) to COMPLETED."""
        return self.change(self.image(pledge_id, "PENDING", "CAPTURED", **fields),
                           self.image(pledge_id, "COMPLETED", "COMPLETED", **fields))

    def item(self, pledge_id: str) -> dict:
        return self.stack.stack.get_item("PledgesTable", {"pk": f"PLEDGE#{pledge_id}"})


@pytest.fixture
def pledges(totals_stack, campaign) -> Pledges:
    return Pledges(totals_stack, campaign)


def receipts(totals_stack, pledge_id: str) -> list:
    return [m for m in totals_stack.sent_mail() if pledge_id in m.body and "receipt" in m.subject.lower()]


def test_pledge_entering_completed_processed_3_times_sends_one_receipt(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    record = pledges.completion(pledge_id, donor_email="grace@example.com")

    results = [totals_stack.realtime_batch(record) for _ in range(3)]

    assert results == [{"batchItemFailures": []}] * 3
    sent = receipts(totals_stack, pledge_id)
    assert len(sent) == 1
    assert sent[0].destinations["ToAddresses"] == ["grace@example.com"]
    assert sent[0].source == SENDER
    assert "25.00 USD" in sent[0].body
    assert pledges.item(pledge_id)["receipt_sent_at"]


def test_pledge_completion_in_one_batch_three_times_sends_one_receipt(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    record = pledges.completion(pledge_id)

    totals_stack.realtime_batch(record, record, record)

    assert len(receipts(totals_stack, pledge_id)) == 1


def test_pledges_completing_each_get_their_own_receipt(totals_stack, sockets, pledges):
    ids = [str(uuid.uuid4()) for _ in range(3)]

    totals_stack.realtime_batch(*[pledges.completion(p, donor_email=f"d{i}@example.com") for i, p in enumerate(ids)])

    assert [len(receipts(totals_stack, p)) for p in ids] == [1, 1, 1]


@pytest.mark.parametrize("old_status, new_status, payment_state", [
    ("PENDING", "PENDING", "AUTHORIZED"), ("PENDING", "FAILED", "FAILED"), ("COMPLETED", "COMPLETED", "COMPLETED")])
def test_pledge_not_entering_completed_sends_no_receipt(totals_stack, sockets, pledges, old_status, new_status,
                                                        payment_state):
    pledge_id = str(uuid.uuid4())
    record = pledges.change(pledges.image(pledge_id, old_status, "PENDING"),
                            pledges.image(pledge_id, new_status, payment_state))

    totals_stack.realtime_batch(record)

    assert receipts(totals_stack, pledge_id) == []


def test_receipt_send_failing_unmarks_so_retry_sends_it(totals_stack, sockets, pledges, monkeypatch):
    pledge_id = str(uuid.uuid4())
    record = pledges.completion(pledge_id)
    use_sender(totals_stack, monkeypatch, "unverified@elsewhere.example")  # SES rejects it: MessageRejected

    with pytest.raises(BatchProcessingError):  # every record of the batch failed: Lambda retries it
        totals_stack.realtime_batch(record)

    assert receipts(totals_stack, pledge_id) == []
    assert "receipt_sent_at" not in pledges.item(pledge_id)

    use_sender(totals_stack, monkeypatch, SENDER)
    retried = totals_stack.realtime_batch(record)

    assert retried == {"batchItemFailures": []}
    assert len(receipts(totals_stack, pledge_id)) == 1


def test_pledge_change_pushes_pledge_updated_to_donor_connections_only(totals_stack, sockets, pledges):
    donor, other = str(uuid.uuid4()), str(uuid.uuid4())
    connect(totals_stack, sockets, "donor-phone", pledges.campaign_id, donor)
    connect(totals_stack, sockets, "donor-laptop", None, donor)
    connect(totals_stack, sockets, "other-donor", pledges.campaign_id, other)
    pledge_id = str(uuid.uuid4())

    totals_stack.realtime_batch(pledges.completion(pledge_id, donor_id=donor, amount_cents=1234))

    for connection_id in ("donor-phone", "donor-laptop"):
        [message] = sockets.messages(connection_id)
        assert message["type"] == "pledge.updated"
        assert (message["pledge_id"], message["status"], message["amount"]) == (pledge_id, "COMPLETED", "12.34")
        assert message["payment"]["state"] == "COMPLETED"
    assert sockets.messages("other-donor") == []


def test_guest_pledge_change_pushes_nothing_to_campaign_only_subscribers(totals_stack, sockets, pledges):
    connect(totals_stack, sockets, "watcher", pledges.campaign_id)

    totals_stack.realtime_batch(pledges.completion(str(uuid.uuid4())))

    assert sockets.posts == []


def test_guest_pledge_change_pushes_pledge_updated_to_that_pledges_followers_only(totals_stack, sockets, pledges):
    pledge_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    connect(totals_stack, sockets, "guest-tab", pledge_id=pledge_id)
    connect(totals_stack, sockets, "other-guest", pledge_id=other_id)

    totals_stack.realtime_batch(pledges.completion(pledge_id, amount_cents=1500))

    [message] = sockets.messages("guest-tab")
    assert (message["type"], message["pledge_id"], message["status"], message["amount"]) == (
        "pledge.updated", pledge_id, "COMPLETED", "15.00")
    assert message["payment"]["state"] == "COMPLETED"
    assert sockets.messages("other-guest") == []


def test_pledge_change_to_socket_following_donor_and_pledge_pushes_once(totals_stack, sockets, pledges):
    donor, pledge_id = str(uuid.uuid4()), str(uuid.uuid4())
    connect(totals_stack, sockets, "both", user_id=donor, pledge_id=pledge_id)

    totals_stack.realtime_batch(pledges.completion(pledge_id, donor_id=donor))

    assert len(sockets.messages("both")) == 1


def test_pledge_record_with_nothing_visible_changed_pushes_nothing(totals_stack, sockets, pledges):
    donor = str(uuid.uuid4())
    connect(totals_stack, sockets, "donor", None, donor)
    pledge_id = str(uuid.uuid4())
    image = pledges.image(pledge_id, "COMPLETED", "COMPLETED", donor_id=donor)
    marked = {**image, "receipt_sent_at": "2025-03-01T12:00:03Z"}  # the receipt mark's own MODIFY

    totals_stack.realtime_batch(pledges.change(image, marked))

    assert sockets.posts == []
    assert receipts(totals_stack, pledge_id) == []


def test_push_to_gone_connection_deletes_it_and_reaches_the_others(totals_stack, sockets, pledges):
    donor = str(uuid.uuid4())
    connect(totals_stack, sockets, "closed-tab", None, donor)
    connect(totals_stack, sockets, "open-tab", None, donor)
    sockets.open.discard("closed-tab")

    result = totals_stack.realtime_batch(pledges.completion(str(uuid.uuid4()), donor_id=donor))

    assert result == {"batchItemFailures": []}
    assert totals_stack.connection("closed-tab") is None
    assert totals_stack.connection("open-tab") is not None
    assert len(sockets.messages("open-tab")) == 1


def test_push_failing_otherwise_fails_the_record_for_retry(totals_stack, sockets, pledges):
    donor = str(uuid.uuid4())
    connect(totals_stack, sockets, "tab", None, donor)
    sockets.error_code = "LimitExceededException"
    record = pledges.completion(str(uuid.uuid4()), donor_id=donor)

    other = pledges.change(None, pledges.image(str(uuid.uuid4()), "PENDING", None))  # a guest's: nothing to do

    result = totals_stack.realtime_batch(other, record)

    assert result["batchItemFailures"] == [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]
    assert totals_stack.connection("tab") is not None


# ---------------------------------------------------------------------------------------- connections stream
def connection_record(totals_stack, item: dict, event_name: str = "INSERT") -> dict:
    """The connections table's stream record (NEW_IMAGE) of a connection's insert or removal."""
    arn = totals_stack.stream_arn("ConnectionsTable")
    if event_name == "REMOVE":
        return stream_record(arn, None, item, event_name="REMOVE")
    return stream_record(arn, item, event_name=event_name)


def test_connection_insert_with_pledge_id_pushes_pledge_current_state(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    pledges.store(pledges.image(pledge_id, "PENDING", "AUTHORIZED", amount_cents=4200))
    item = connect(totals_stack, sockets, "guest-tab", pledge_id=pledge_id)

    result = totals_stack.realtime_batch(connection_record(totals_stack, item))

    assert result == {"batchItemFailures": []}
    assert sockets.messages("guest-tab") == [{
        "type": "pledge.updated", "pledge_id": pledge_id, "campaign_id": pledges.campaign_id, "status": "PENDING",
        "amount": "42.00", "currency": "USD", "payment": pledges.image(pledge_id, "PENDING", "AUTHORIZED")["payment"],
        "updated_at": "2025-03-01T12:00:02Z"}]


def test_connection_insert_without_pledge_id_pushes_nothing(totals_stack, sockets, pledges):
    item = connect(totals_stack, sockets, "watcher", campaign_id=pledges.campaign_id, user_id=str(uuid.uuid4()))

    result = totals_stack.realtime_batch(connection_record(totals_stack, item))

    assert result == {"batchItemFailures": []}
    assert sockets.posts == []


def test_connection_removal_pushes_nothing(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    pledges.store(pledges.image(pledge_id, "COMPLETED", "COMPLETED"))
    item = connect(totals_stack, sockets, "closed-tab", pledge_id=pledge_id)

    totals_stack.realtime_batch(connection_record(totals_stack, item, "REMOVE"))

    assert sockets.posts == []


def test_connection_insert_of_connection_closed_meanwhile_pushes_nothing(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    pledges.store(pledges.image(pledge_id, "PENDING", None))
    item = connect(totals_stack, sockets, "gone-tab", pledge_id=pledge_id)
    totals_stack.socket("$disconnect", "gone-tab")

    result = totals_stack.realtime_batch(connection_record(totals_stack, item))

    assert result == {"batchItemFailures": []}
    assert sockets.posts == []


def test_connection_insert_answered_gone_just_after_connect_fails_record_for_retry(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    pledges.store(pledges.image(pledge_id, "PENDING", None))
    item = connect(totals_stack, sockets, "opening-tab", pledge_id=pledge_id)
    sockets.open.discard("opening-tab")  # $connect returned, the handshake has not completed yet
    record = connection_record(totals_stack, item)

    with pytest.raises(BatchProcessingError):  # the only record failed: Lambda retries the batch
        totals_stack.realtime_batch(record)
    assert totals_stack.connection("opening-tab") is not None

    sockets.open.add("opening-tab")
    assert totals_stack.realtime_batch(record) == {"batchItemFailures": []}
    assert [m["status"] for m in sockets.messages("opening-tab")] == ["PENDING"]


def test_connection_insert_answered_gone_long_after_connect_deletes_connection(totals_stack, sockets, pledges):
    pledge_id = str(uuid.uuid4())
    pledges.store(pledges.image(pledge_id, "PENDING", None))
    item = connect(totals_stack, sockets, "stale-tab", pledge_id=pledge_id, connected_at=int(time.time()) - 60)
    sockets.open.discard("stale-tab")

    result = totals_stack.realtime_batch(connection_record(totals_stack, item))

    assert result == {"batchItemFailures": []}
    assert totals_stack.connection("stale-tab") is None


# ---------------------------------------------------------------------------------------- totals stream
class Totals:
    def __init__(self, totals_stack, campaign_id: str) -> None:
        self.stack = totals_stack
        self.campaign_id = campaign_id
        self.arn = totals_stack.stream_arn("TotalsTable")

    def image(self, total_cents: int, pledge_count: int, goal_cents: int = 10_000) -> dict:
        return {"campaign_id": self.campaign_id, "total_cents": total_cents, "pledge_count": pledge_count,
                "goal_cents": goal_cents, "currency": "USD", "updated_at": "2025-03-01T12:00:05Z"}

    def change(self, old: tuple[int, int] | None, new: tuple[int, int], **fields) -> dict:
        return stream_record(self.arn, self.image(*new, **fields), None if old is None else self.image(*old, **fields))


@pytest.fixture
def totals(totals_stack, campaign) -> Totals:
    return Totals(totals_stack, campaign)


def goal_notes(totals_stack, to: str) -> list:
    return [m for m in totals_stack.sent_mail() if m.destinations["ToAddresses"] == [to] and "goal" in m.subject]


def test_totals_change_pushes_totals_updated_to_campaign_subscribers(totals_stack, sockets, totals):
    connect(totals_stack, sockets, "a", totals.campaign_id)
    connect(totals_stack, sockets, "b", totals.campaign_id, str(uuid.uuid4()))
    connect(totals_stack, sockets, "elsewhere", str(uuid.uuid4()))

    totals_stack.realtime_batch(totals.change((0, 0), (2500, 1)))

    for connection_id in ("a", "b"):
        assert sockets.messages(connection_id) == [{
            "type": "totals.updated", "campaign_id": totals.campaign_id, "total_amount": "25.00", "pledge_count": 1,
            "goal_amount": "100.00", "currency": "USD", "updated_at": "2025-03-01T12:00:05Z"}]
    assert sockets.messages("elsewhere") == []


def test_totals_record_with_unchanged_amount_and_count_pushes_nothing(totals_stack, sockets, totals):
    connect(totals_stack, sockets, "a", totals.campaign_id)

    totals_stack.realtime_batch(totals.change((2500, 1), (2500, 1)))

    assert sockets.posts == []


def test_totals_reaching_goal_processed_3_times_sends_one_note_to_owner(totals_stack, sockets, totals, owner):
    record = totals.change((9_000, 3), (10_500, 4))

    results = [totals_stack.realtime_batch(record) for _ in range(3)]
    totals_stack.realtime_batch(totals.change((10_500, 4), (12_000, 5)))  # and raising more later

    assert results == [{"batchItemFailures": []}] * 3
    [note] = goal_notes(totals_stack, owner["email"])
    assert totals.campaign_id in note.body and "105.00" in note.body
    assert totals_stack.totals_item(totals.campaign_id)["goal_notified_at"]


def test_goal_lowered_below_raised_amount_pushes_new_goal_and_sends_note(totals_stack, sockets, totals, owner):
    connect(totals_stack, sockets, "a", totals.campaign_id)
    record = stream_record(totals.arn, totals.image(7_500, 3, goal_cents=5_000),
                           totals.image(7_500, 3, goal_cents=10_000))

    totals_stack.realtime_batch(record)

    [message] = sockets.messages("a")
    assert (message["goal_amount"], message["total_amount"]) == ("50.00", "75.00")
    assert len(goal_notes(totals_stack, owner["email"])) == 1


def test_goal_raised_above_raised_amount_pushes_new_goal_and_sends_no_note(totals_stack, sockets, totals, owner):
    connect(totals_stack, sockets, "a", totals.campaign_id)
    record = stream_record(totals.arn, totals.image(7_500, 3, goal_cents=20_000), totals.image(7_500, 3))

    totals_stack.realtime_batch(record)

    assert sockets.messages("a")[0]["goal_amount"] == "200.00"
    assert goal_notes(totals_stack, owner["email"]) == []


def test_totals_below_goal_sends_no_note(totals_stack, sockets, totals, owner):
    totals_stack.realtime_batch(totals.change((0, 0), (9_999, 3)))

    assert goal_notes(totals_stack, owner["email"]) == []


def test_goal_note_send_failing_unmarks_so_retry_sends_it(totals_stack, sockets, totals, owner, monkeypatch):
    record = totals.change((0, 0), (10_000, 1))
    use_sender(totals_stack, monkeypatch, "unverified@elsewhere.example")

    with pytest.raises(BatchProcessingError):
        totals_stack.realtime_batch(record)
    assert "goal_notified_at" not in totals_stack.totals_item(totals.campaign_id)

    use_sender(totals_stack, monkeypatch, SENDER)
    assert totals_stack.realtime_batch(record) == {"batchItemFailures": []}
    assert len(goal_notes(totals_stack, owner["email"])) == 1


def test_sender_identity_of_template_is_verified_in_moto(totals_stack):
    import boto3

    identities = boto3.client("ses", region_name="us-east-1").list_identities()["Identities"]

    assert totals_stack.realtime.SETTINGS.sender_email == SENDER
    assert SENDER in identities
