"""Helpers of the totals tests: constants, the in-memory TotalsStore, stream records, the moto stack wrapper."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from careforall import dynamo

from totals_service.logic import CampaignDelta
from totals_service.models import LedgerEntry, PaymentChange

CAMPAIGN_A = "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10"
CAMPAIGN_B = "5c1d7e2a-3f4b-4a6c-8d9e-1a2b3c4d5e6f"
CAMPAIGN_C = "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b"
OWNER_EMAIL = "owner@example.com"


def change(payment_id: str, state: str, version: int, campaign_id: str = CAMPAIGN_A,
           amount_cents: int = 2500) -> PaymentChange:
    return PaymentChange(payment_id=payment_id, campaign_id=campaign_id, amount_cents=amount_cents, state=state,
                         version=version)


# ---------------------------------------------------------------------------------------- the fake store
class FakeTotalsStore:
    """Totals and ledger in dicts, with DynamoTotalsStore.apply's semantics in one step.

    apply(): False (nothing written) when an entry's `replaces` is not the ledger's current version,
    as the transaction's conditions would cancel it; else adds the delta and writes every entry.
    `before_apply` runs once before the next apply: another writer slipping in between the
    aggregator's ledger read and its write.
    """

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, int]] = {}
        self.entries: dict[str, LedgerEntry] = {}
        self.applies: list[CampaignDelta] = []  # every apply call, successful or not
        self.ledger_reads: list[list[str]] = []
        self.before_apply: Callable[[], None] | None = None

    def ledger(self, payment_ids: list[str]) -> dict[str, LedgerEntry]:
        self.ledger_reads.append(list(payment_ids))
        return {p: self.entries[p].model_copy() for p in payment_ids if p in self.entries}

    def apply(self, delta: CampaignDelta) -> bool:
        hook, self.before_apply = self.before_apply, None
        if hook is not None:
            hook()
        self.applies.append(delta)
        for entry, replaces in delta.entries:
            current = self.entries.get(entry.payment_id)
            if (current.version if current else None) != replaces:
                return False
        if delta.changes_totals:
            totals = self.totals.setdefault(delta.campaign_id, {"total_cents": 0, "pledge_count": 0})
            totals["total_cents"] += delta.amount_cents
            totals["pledge_count"] += delta.pledge_count
        for entry, _ in delta.entries:
            self.entries[entry.payment_id] = entry.model_copy()
        return True

    def get(self, campaign_id: str) -> dict | None:
        return self.totals.get(campaign_id)

    def total(self, campaign_id: str) -> tuple[int, int]:
        totals = self.totals.get(campaign_id, {"total_cents": 0, "pledge_count": 0})
        return totals["total_cents"], totals["pledge_count"]

    def successful_applies(self) -> list[CampaignDelta]:
        """The applies that wrote (a failed one is followed by a retry of the same campaign)."""
        return [d for d in self.applies if d.entries]


# ---------------------------------------------------------------------------------------- stream events
_sequence = itertools.count(222200000000012345678901)


def stream_record(stream_arn: str, new_image: dict[str, Any] | None, old_image: dict[str, Any] | None = None,
                  event_name: str | None = None) -> dict[str, Any]:
    """One stream record the way Lambda's DynamoDB event source delivers it; images are plain dicts."""
    image = new_image or old_image
    keys = {k: image[k] for k in ("pk", "campaign_id", "connection_id") if k in image}
    if "pk" in keys:
        keys = {"pk": keys["pk"]}
    dynamodb: dict[str, Any] = {"ApproximateCreationDateTime": 1744202096, "Keys": dynamo.to_item(keys),
                                "SequenceNumber": str(next(_sequence)), "SizeBytes": 400,
                                "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new_image is not None:
        dynamodb["NewImage"] = dynamo.to_item(new_image)
    if old_image is not None:
        dynamodb["OldImage"] = dynamo.to_item(old_image)
    name = event_name or ("INSERT" if old_image is None else "REMOVE" if new_image is None else "MODIFY")
    return {"eventID": uuid.uuid4().hex, "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "dynamodb": dynamodb, "eventSourceARN": stream_arn}


def payment_image(payment_id: str, state: str, version: int, campaign_id: str = CAMPAIGN_A,
                  amount_cents: int = 2500) -> dict[str, Any]:
    """A payment item as the payments service stores it (the fields the aggregator reads, and some it does not)."""
    return {"pk": f"PAYMENT#{payment_id}", "entity": "PAYMENT", "id": payment_id, "pledge_id": str(uuid.uuid4()),
            "campaign_id": campaign_id, "amount_cents": amount_cents, "currency": "USD",
            "payment_method": "pm_card_visa", "state": state, "version": version,
            "created_at": "2025-03-01T12:00:00Z", "updated_at": "2025-03-01T12:00:01Z"}


def event_image(payment_id: str, state: str) -> dict[str, Any]:
    """A provider event item of the payments table: not a payment, the aggregator skips it."""
    return {"pk": f"EVENT#evt_{uuid.uuid4().hex}", "entity": "EVENT", "payment_id": payment_id, "state": state,
            "received_at": "2025-03-01T12:00:01Z"}


# ---------------------------------------------------------------------------------------- moto
@dataclass
class TotalsStack:
    """The moto stack plus the totals functions' modules, their settings read from this test's environment."""

    stack: Any
    aggregator: ModuleType
    handler: ModuleType
    realtime: ModuleType
    sockets: ModuleType

    @property
    def dynamodb(self):
        return self.stack.dynamodb

    def table(self, logical_id: str) -> str:
        return self.stack.tables[logical_id]

    def stream_arn(self, logical_id: str) -> str:
        return self.dynamodb.describe_table(TableName=self.table(logical_id))["Table"]["LatestStreamArn"]

    def put_campaign(self, goal_cents: int = 2_500_000, owner_id: str | None = None, campaign_id: str | None = None,
                     currency: str = "USD") -> str:
        """A campaign and its empty totals item, written by campaigns_service's own repository."""
        from careforall.clock import now_iso
        from campaigns_service.dal import DynamoCampaignRepository
        from campaigns_service.models import CampaignRecord

        now = now_iso()
        record = CampaignRecord(id=campaign_id or str(uuid.uuid4()), title="Clean water for Riverside",
                                description="Wells and filters for 40 families.", goal_cents=goal_cents,
                                currency=currency, status="ACTIVE",
                                owner_id=owner_id or "5f0c2a4e-3b1d-4c8e-9a7f-1d2e3f4a5b6c",
                                created_at=now, updated_at=now)
        DynamoCampaignRepository(self.table("CampaignsTable"), self.table("TotalsTable"),
                                 client=self.dynamodb).create(record)
        return record.id

    def totals_item(self, campaign_id: str) -> dict[str, Any] | None:
        return self.stack.get_item("TotalsTable", {"campaign_id": campaign_id})

    def aggregate(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.aggregator.lambda_handler({"Records": list(records)}, self.stack.context)

    def payment_records(self, *images: dict[str, Any]) -> list[dict[str, Any]]:
        arn = self.stream_arn("PaymentsTable")
        return [stream_record(arn, image, event_name="MODIFY") for image in images]

    def realtime_batch(self, *records: dict[str, Any]) -> dict[str, Any]:
        return self.realtime.lambda_handler({"Records": list(records)}, self.stack.context)

    def socket_event(self, route: str, connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
        event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
        event: dict[str, Any] = {"requestContext": {
            "routeKey": route, "eventType": event_type, "connectionId": connection_id, "stage": "live",
            "apiId": "local", "requestId": str(uuid.uuid4()), "connectedAt": 1744202096000,
            "identity": {"sourceIp": "127.0.0.1"}}}
        if route == "$connect":
            event.update(headers={"Host": "127.0.0.1"}, queryStringParameters=query or None,
                         multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
                         isBase64Encoded=False)
        else:
            event["body"] = "{}" if route == "$default" else None
        return event

    def socket(self, route: str, connection_id: str, query: dict[str, str] | None = None) -> dict[str, Any]:
        return self.sockets.lambda_handler(self.socket_event(route, connection_id, query), self.stack.context)

    def connection(self, connection_id: str) -> dict[str, Any] | None:
        return self.stack.get_item("ConnectionsTable", {"connection_id": connection_id})

    def sent_mail(self) -> list[Any]:
        """Messages moto's SES accepted (SES v2 sends through the same backend): .destinations, .subject, .body."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)
