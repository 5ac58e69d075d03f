"""Counts the DynamoDB item writes the local endpoint accepted: per table, per item, and how they were made.

`make bench` reads it to measure DynamoDB writes per completed donation and writes to the hottest totals
item per pledge, numbers that do not depend on the machine and that the capacity model (docs/capacity.md)
turns into write capacity. GET /_careforall/dynamodb-writes answers the counts, DELETE resets them.

One count per item written: a PutItem, UpdateItem or DeleteItem is one; a TransactWriteItems counts each of
its Put, Update and Delete (a ConditionCheck writes nothing) as a transactional write, which DynamoDB bills
twice; a BatchWriteItem counts each request it did not return as unprocessed. Writes DynamoDB refused
(a failed condition, a cancelled transaction) are counted apart: on AWS they consume write capacity too.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

WRITES_PATH = "/_careforall/dynamodb-writes"
_WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
_HOTTEST_SHOWN = 5

KeySchema = Callable[[str], tuple[str, ...]]  # table name -> its key attributes (hash, then range)


def write_operation(environ: dict[str, Any]) -> str | None:
    """The DynamoDB write operation of a request (X-Amz-Target), or None for anything else."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    operation = target.removeprefix("DynamoDB_20120810.")
    return operation if operation != target and operation in _WRITE_OPERATIONS else None


def moto_key_schema(table_name: str) -> tuple[str, ...]:
    """The key attributes of a table moto holds, in whatever account and region it was created."""
    from moto.dynamodb.models import dynamodb_backends

    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            table = backend.tables.get(table_name)
            if table is not None:
                return tuple(k for k in (table.hash_key_attr, table.range_key_attr) if k)
    return ()


class DynamoDBWriteMeter:
    def __init__(self, key_schema: KeySchema = moto_key_schema) -> None:
        self._key_schema = key_schema
        self._schemas: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._items: Counter[tuple[str, str]] = Counter()
        self._kinds: Counter[tuple[str, str]] = Counter()  # (table, single|transactional|batch|rejected)

    def record(self, operation: str, body: bytes, status: int, response: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
            writes = list(self._writes(operation, request, response if status == 200 else b""))
        except (ValueError, TypeError, AttributeError, KeyError):
            return  # a request moto refused as malformed wrote nothing
        with self._lock:
            for table, key, kind in writes:
                if status == 200:
                    self._items[(table, key)] += 1
                    self._kinds[(table, kind)] += 1
                else:
                    self._kinds[(table, "rejected")] += 1

    def reset(self) -> None:
        with self._lock:
            self._items.clear()
            self._kinds.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            items, kinds = Counter(self._items), Counter(self._kinds)
        tables: dict[str, dict[str, Any]] = {}
        for (table, kind), count in kinds.items():
            row = tables.setdefault(table, {"writes": 0, "single": 0, "transactional": 0, "batch": 0,
                                            "rejected": 0, "items": 0, "hottest": []})
            row[kind] += count
            if kind != "rejected":
                row["writes"] += count
        for table, row in tables.items():
            per_item = [(key, count) for (t, key), count in items.items() if t == table]
            row["items"] = len(per_item)
            row["hottest"] = [{"key": json.loads(key), "writes": count}
                              for key, count in sorted(per_item, key=lambda kc: -kc[1])[:_HOTTEST_SHOWN]]
        return {"writes": sum(row["writes"] for row in tables.values()),
                "rejected": sum(row["rejected"] for row in tables.values()), "tables": tables}

    # ------------------------------------------------------------------------------------------------
    def _writes(self, operation: str, request: dict, response: bytes):
        if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
            yield request["TableName"], self._key(request["TableName"], request.get("Key") or request["Item"]), "single"
        elif operation == "TransactWriteItems":
            for entry in request["TransactItems"]:
                for kind in ("Put", "Update", "Delete"):
                    if kind in entry:
                        table = entry[kind]["TableName"]
                        yield table, self._key(table, entry[kind].get("Key") or entry[kind]["Item"]), "transactional"
        else:  # BatchWriteItem: what came back unprocessed was not written
            unprocessed = json.loads(response).get("UnprocessedItems", {}) if response else {}
            for table, requests in request["RequestItems"].items():
                left = [json.dumps(r, sort_keys=True) for r in unprocessed.get(table, [])]
                for entry in requests:
                    if json.dumps(entry, sort_keys=True) in left:
                        left.remove(json.dumps(entry, sort_keys=True))
                        continue
                    item = (entry.get("PutRequest") or {}).get("Item") or (entry.get("DeleteRequest") or {})["Key"]
                    yield table, self._key(table, item), "batch"

    def _key(self, table: str, item: dict) -> str:
        if table not in self._schemas:
            self._schemas[table] = self._key_schema(table) or tuple(sorted(item))
        return json.dumps({name: item.get(name) for name in self._schemas[table]}, sort_keys=True)
