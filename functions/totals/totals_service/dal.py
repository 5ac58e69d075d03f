"""Totals data access.

TotalsTable, key `campaign_id`: total_cents, pledge_count, goal_cents, currency, updated_at.
TotalsLedgerTable, key `payment_id`: what the totals include of each payment (version, counted).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from careforall import contention, dynamo
from careforall.clock import now_iso

from totals_service.logic import CampaignDelta
from totals_service.models import LedgerEntry


class DynamoTotalsStore:
    def __init__(self, totals_table: str, ledger_table: str | None = None, client=None) -> None:
        self._totals = totals_table
        self._ledger = ledger_table
        self._client = client or dynamo.client()

    def get(self, campaign_id: str) -> dict | None:
        return dynamo.from_item(self._client.get_item(TableName=self._totals,
                                                      Key=dynamo.to_item({"campaign_id": campaign_id})).get("Item"))

    def ledger(self, payment_ids: list[str]) -> dict[str, LedgerEntry]:
        found: dict[str, LedgerEntry] = {}
        request = {self._ledger: {"Keys": [dynamo.to_item({"payment_id": p}) for p in dict.fromkeys(payment_ids)],
                                  "ConsistentRead": True}}
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self._ledger, []):
                entry = LedgerEntry.model_validate(dynamo.from_item(raw))
                found[entry.payment_id] = entry
            request = response.get("UnprocessedKeys") or None
        return found

    def apply(self, delta: CampaignDelta) -> bool:
        # correlation_ids: which donations this change of the totals includes (ops follow them to the push).
        items = [{"Update": {
            "TableName": self._totals, "Key": dynamo.to_item({"campaign_id": delta.campaign_id}),
            "UpdateExpression": "ADD total_cents :amount, pledge_count :count "
                                "SET updated_at = :now, correlation_ids = :ids",
            "ExpressionAttributeValues": dynamo.to_values({":amount": delta.amount_cents, ":count": delta.pledge_count,
                                                           ":now": now_iso(), ":ids": delta.correlation_ids})}}
                 ] if delta.changes_totals else []
        for entry, replaces in delta.entries:
            put = {"TableName": self._ledger, "Item": dynamo.to_item(entry.model_dump())}
            if replaces is None:
                put["ConditionExpression"] = "attribute_not_exists(payment_id)"
            else:
                put["ConditionExpression"] = "version = :replaces"
                put["ExpressionAttributeValues"] = dynamo.to_values({":replaces": replaces})
            items.append({"Put": put})
        try:
            self._client.transact_write_items(TransactItems=items)
            return True
        except ClientError as error:
            if error.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = contention.cancellation_codes(error)
            if "ConditionalCheckFailed" in codes or "TransactionConflict" in codes:
                return False
            raise
