"""Campaigns data access.

Campaigns table: key `id`. Two GSIs list newest first without scanning:
  by_status  (status, created_sort)   ?status=ACTIVE
  by_created (entity="CAMPAIGN", created_sort)   all campaigns
created_sort is "<created_at>#<id>", unique and time-ordered.
Totals table (the read model): key `campaign_id`, `total_cents`.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from careforall import contention, dynamo
from careforall.errors import ValidationFailedError
from careforall.pagination import decode_cursor, encode_cursor

from campaigns_service.logic import Page
from campaigns_service.models import CampaignRecord, CampaignStatus

ENTITY = "CAMPAIGN"


class DynamoCampaignRepository:
    def __init__(self, table_name: str, totals_table_name: str | None = None, client=None) -> None:
        self._table = table_name
        self._totals = totals_table_name
        self._client = client or dynamo.client()

    def create(self, campaign: CampaignRecord) -> None:
        item = {**campaign.model_dump(mode="json"), "entity": ENTITY,
                "created_sort": f"{campaign.created_at}#{campaign.id}"}
        put_campaign = {"TableName": self._table, "Item": dynamo.to_item(item),
                        "ConditionExpression": "attribute_not_exists(id)"}
        if self._totals is None:
            self._client.put_item(**put_campaign)
            return
        # The campaign and its (empty) totals item are born together, so GET .../totals is one GetItem.
        totals = {"campaign_id": campaign.id, "total_cents": 0, "pledge_count": 0, "goal_cents": campaign.goal_cents,
                  "currency": campaign.currency, "updated_at": campaign.created_at}
        transaction = [
            {"Put": put_campaign},
            {"Put": {"TableName": self._totals, "Item": dynamo.to_item(totals),
                     "ConditionExpression": "attribute_not_exists(campaign_id)"}}]
        contention.retry_contended(lambda: self._client.transact_write_items(TransactItems=transaction))

    def get(self, campaign_id: str) -> CampaignRecord | None:
        item = dynamo.from_item(self._client.get_item(
            TableName=self._table, Key=dynamo.to_item({"id": campaign_id})).get("Item"))
        return CampaignRecord.model_validate(item) if item else None

    def list(self, status: CampaignStatus | None, limit: int, cursor: str | None) -> Page:
        if status is None:
            index, partition = "by_created", {"#pk": "entity", ":pk": ENTITY}
        else:
            index, partition = "by_status", {"#pk": "status", ":pk": status.value}
        start_key = decode_cursor(cursor, {"id", "created_sort", partition["#pk"]})
        if start_key is not None and start_key[partition["#pk"]] != partition[":pk"]:
            raise ValidationFailedError("The cursor belongs to another listing; start again without it.",
                                        errors=[{"loc": ["query", "cursor"], "type": "cursor_invalid",
                                                 "msg": "cursor of another filter"}])
        query = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": partition["#pk"]},
            "ExpressionAttributeValues": dynamo.to_values({":pk": partition[":pk"]}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key is not None:
            query["ExclusiveStartKey"] = dynamo.to_item(start_key)
        response = self._client.query(**query)
        records = [CampaignRecord.model_validate(dynamo.from_item(item)) for item in response.get("Items", [])]
        return Page(records=records, next_cursor=encode_cursor(dynamo.from_item(response.get("LastEvaluatedKey"))))

    def update(self, campaign_id: str, changes: dict, expected_status: CampaignStatus) -> CampaignRecord | None:
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        values = {f":v{i}": value for i, value in enumerate(changes.values())}
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key=dynamo.to_item({"id": campaign_id}),
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes))),
                ConditionExpression="attribute_exists(id) AND #status = :expected",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=dynamo.to_values({**values, ":expected": expected_status.value}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return None
            raise
        updated = CampaignRecord.model_validate(dynamo.from_item(result["Attributes"]))
        if "goal_cents" in changes and self._totals is not None:
            self._client.update_item(  # the totals read model serves the goal with the amount raised
                TableName=self._totals, Key=dynamo.to_item({"campaign_id": campaign_id}),
                UpdateExpression="SET goal_cents = :goal", ExpressionAttributeValues=dynamo.to_values(
                    {":goal": updated.goal_cents}))
        return updated


class DynamoTotalsReader:
    """Reads the totals read model; a campaign without a totals item has raised nothing yet."""

    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()

    def raised_cents(self, campaign_ids: list[str]) -> dict[str, int]:
        keys = [dynamo.to_item({"campaign_id": cid}) for cid in dict.fromkeys(campaign_ids)]
        raised: dict[str, int] = {}
        request = {self._table: {"Keys": keys, "ProjectionExpression": "campaign_id, total_cents"}}
        while request:  # BatchGetItem may answer in parts under load
            response = self._client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self._table, []):
                item = dynamo.from_item(raw)
                raised[item["campaign_id"]] = int(item.get("total_cents", 0))
            request = response.get("UnprocessedKeys") or None
        return raised
