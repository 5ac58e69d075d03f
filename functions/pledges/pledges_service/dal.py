"""Pledges data access.

Pledges table, key `pk` = "PLEDGE#<id>", where the id is derived from (caller scope, Idempotency-Key).
GSIs list newest first without scanning: by_donor (donor_id, created_sort), by_email
(donor_email_key, created_sort), by_campaign (campaign_id, created_sort) and by_campaign_status
(campaign_status, created_sort); created_sort is "<created_at>#<id>", campaign_status is
"<campaign_id>#<status>", written here at creation and kept current by the payment projector
(functions/payments/payments_service/dal.py, DynamoPledgeProjection) in the same update as the status.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from careforall import contention, dynamo
from careforall.errors import ValidationFailedError
from careforall.pagination import decode_cursor, encode_cursor

from pledges_service.logic import CampaignRef, CreateOutcome, CreateResult, Page, email_key
from pledges_service.models import PledgeCreatedEvent, PledgeRecord, PledgeStatus

ENTITY = "PLEDGE"
_INTERNAL = ("pk", "entity", "created_sort", "donor_email_key", "campaign_status")


def campaign_status_key(campaign_id: str, status: PledgeStatus | str) -> str:
    """The by_campaign_status partition: the same format as the payment projector writes."""
    return f"{campaign_id}#{PledgeStatus(status).value}"


def _create_retry_base(error: BaseException) -> float | None:
    """Contention on the campaign's ConditionCheck (or throttling) is retried; any reason on the pledge item
    itself is an answer: the pledge exists, or the same (scope, key) is in flight (409 by the contract)."""
    codes = contention.cancellation_codes(error)
    if len(codes) > 1 and codes[1] in ("ConditionalCheckFailed", "TransactionConflict"):
        return None
    return contention.retry_base_seconds(error)


def _record(item: dict[str, Any] | None) -> PledgeRecord | None:
    if not item:
        return None
    values = {k: v for k, v in item.items() if k not in _INTERNAL}
    return PledgeRecord.model_validate(values)


class DynamoPledgeRepository:
    def __init__(self, table_name: str, campaigns_table_name: str, client=None,
                 backoff: contention.Backoff = contention.DEFAULT_BACKOFF) -> None:
        self._table = table_name
        self._campaigns = campaigns_table_name
        self._client = client or dynamo.client()
        self._backoff = backoff

    def create(self, pledge: PledgeRecord) -> CreateResult:
        item = {**pledge.model_dump(mode="json", exclude_none=True), "pk": f"PLEDGE#{pledge.id}", "entity": ENTITY,
                "created_sort": f"{pledge.created_at}#{pledge.id}", "donor_email_key": email_key(pledge.donor_email),
                "campaign_status": campaign_status_key(pledge.campaign_id, pledge.status)}
        transaction = [
            {"ConditionCheck": {
                "TableName": self._campaigns, "Key": dynamo.to_item({"id": pledge.campaign_id}),
                "ConditionExpression": "#status = :active",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": dynamo.to_values({":active": "ACTIVE"})}},
            {"Put": {
                "TableName": self._table, "Item": dynamo.to_item(item),
                "ConditionExpression": "attribute_not_exists(pk)",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        ]
        try:
            # One atomic write: the campaign is still ACTIVE, and this pledge id is new. Contention is retried
            # (ServiceBusyError, a 503, when it outlasts the retries).
            contention.retry_contended(lambda: self._client.transact_write_items(TransactItems=transaction),
                                       backoff=self._backoff, retry_base=_create_retry_base)
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons") or []
            codes = [r.get("Code") for r in reasons]
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                existing = dynamo.from_item(reasons[1].get("Item")) if reasons[1].get("Item") else None
                return CreateResult(CreateOutcome.EXISTS, _record(existing) or self.get(pledge.id))
            if len(codes) > 1 and codes[1] == "TransactionConflict":
                # DynamoDB cancels a transaction on an item another transaction is writing: the same
                # (scope, key) is in flight. The contract answers 409; a retry then gets the first response.
                return CreateResult(CreateOutcome.IN_FLIGHT)
            if codes and codes[0] == "ConditionalCheckFailed":
                return CreateResult(CreateOutcome.CAMPAIGN_NOT_ACTIVE)
            raise
        return CreateResult(CreateOutcome.CREATED)

    def get(self, pledge_id: str) -> PledgeRecord | None:
        return _record(dynamo.from_item(self._client.get_item(
            TableName=self._table, Key=dynamo.to_item({"pk": f"PLEDGE#{pledge_id}"}), ConsistentRead=True).get("Item")))

    def by_donor(self, donor_id: str, limit: int, cursor: str | None) -> Page:
        return self._query("by_donor", "donor_id", donor_id, limit, cursor)

    def by_email(self, email: str, limit: int, cursor: str | None) -> Page:
        return self._query("by_email", "donor_email_key", email, limit, cursor)

    def by_campaign(self, campaign_id: str, status: PledgeStatus | None, limit: int, cursor: str | None) -> Page:
        if status is None:
            return self._query("by_campaign", "campaign_id", campaign_id, limit, cursor)
        return self._query("by_campaign_status", "campaign_status", campaign_status_key(campaign_id, status),
                           limit, cursor)

    def _query(self, index: str, attribute: str, value: str, limit: int, cursor: str | None) -> Page:
        start_key = decode_cursor(cursor, {"pk", "created_sort", attribute})
        query = {
            "TableName": self._table, "IndexName": index, "KeyConditionExpression": "#a = :v",
            "ExpressionAttributeNames": {"#a": attribute}, "ExpressionAttributeValues": dynamo.to_values({":v": value}),
            "ScanIndexForward": False, "Limit": limit,
        }
        if start_key is not None:
            if start_key[attribute] != value:  # a cursor of somebody else's listing: refused, as for campaigns
                raise ValidationFailedError("The cursor belongs to another listing; start again without it.",
                                            errors=[{"loc": ["query", "cursor"], "type": "cursor_invalid",
                                                     "msg": "cursor of another listing"}])
            query["ExclusiveStartKey"] = dynamo.to_item(start_key)
        response = self._client.query(**query)
        records = [_record(dynamo.from_item(i)) for i in response.get("Items", [])]
        return Page(records=records, next_cursor=encode_cursor(dynamo.from_item(response.get("LastEvaluatedKey"))))


class DynamoCampaignDirectory:
    """Campaign owners and currencies, cached for the container's life: neither ever changes."""

    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()
        self._campaigns: dict[str, CampaignRef] = {}

    def find(self, campaign_id: str) -> CampaignRef | None:
        if campaign_id not in self._campaigns:
            item = dynamo.from_item(self._client.get_item(
                TableName=self._table, Key=dynamo.to_item({"id": campaign_id}),
                ProjectionExpression="#id, #owner, #currency",
                ExpressionAttributeNames={"#id": "id", "#owner": "owner_id", "#currency": "currency"}).get("Item"))
            if item is None:
                return None
            self._campaigns[campaign_id] = CampaignRef(id=item["id"], owner_id=item["owner_id"],
                                                       currency=item["currency"])
        return self._campaigns[campaign_id]


class SqsEventPublisher:
    """pledge.created onto the FIFO payments queue, deduplicated by pledge id (SQS drops repeats for 5 min)."""

    def __init__(self, queue_url: str, client=None) -> None:
        import boto3

        self._queue_url = queue_url
        self._client = client or boto3.client("sqs")

    def publish(self, event: PledgeCreatedEvent, trace_header: str | None = None) -> None:
        pledge_id = event.data["pledge_id"]
        extra = {}
        if trace_header:  # the consumer's invocation joins the pledge's trace (Lambda reads AWSTraceHeader)
            extra["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace_header}}
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=event.model_dump_json(),
                                  MessageGroupId=pledge_id, MessageDeduplicationId=pledge_id, **extra)

