"""Fixed-window counters in the rate-limits table (key `pk`, TTL attribute `expires_at`).

Used for failed logins (users) and guest lookups (pledges): one item per (subject, window),
incremented atomically with ADD; DynamoDB's TTL removes old windows.
"""

from __future__ import annotations

from careforall import dynamo


class DynamoWindowCounters:
    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()

    def counts(self, keys: list[str], window: int) -> dict[str, int]:
        response = self._client.batch_get_item(RequestItems={self._table: {
            "Keys": [dynamo.to_item({"pk": f"{key}#{window}"}) for key in dict.fromkeys(keys)],
            "ConsistentRead": True}})
        counts = {}
        for raw in response.get("Responses", {}).get(self._table, []):
            item = dynamo.from_item(raw)
            counts[item["pk"].rsplit("#", 1)[0]] = int(item.get("hits", 0))
        return counts

    def increment(self, keys: list[str], window: int, expires_at: int) -> None:
        for key in keys:
            self._client.update_item(
                TableName=self._table,
                Key=dynamo.to_item({"pk": f"{key}#{window}"}),
                UpdateExpression="ADD hits :one SET expires_at = :expires_at",
                ExpressionAttributeValues=dynamo.to_values({":one": 1, ":expires_at": expires_at}),
            )
