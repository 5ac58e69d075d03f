"""Counts the DynamoDB item writes the local endpoint accepted: per table, per item, and how they were made.

`make bench` reads it to measure DynamoDB writes per completed donation and writes to the hottest totals
item per pledge, numbers that do not depend on the machine and that the capacity model (docs/capacity.md)
turns into write capacity. GET /_careforall/dynamodb-writes answers the counts, DELETE resets them.

One count per item written: a PutItem, UpdateItem or DeleteItem is one; a TransactWriteItems counts each of
its Put, Update and Delete (a ConditionCheck writes nothing) as a transactional write, which DynamoDB bills
twice; a BatchWriteItem counts each request it did not return as unprocessed. Writes DynamoDB refused
(a failed condition, a cancelled transaction) are counted apart: on AWS they consume write capacity too.

Beside the counts, write capacity units as AWS bills them (docs/write-accounting.md), from each item's image
before and after the write (read from the emulator under the same lock as the write):
- a write costs ceil(max(size before, size after) / 1 KB) WCU, at least 1; twice that in a transaction;
- a transaction's ConditionCheck costs as a transactional write of the item it checks;
- a refused write costs what it would have written;
- every global secondary index (its key schema and projection as the table was created from template.yaml)
  whose entry the write adds, removes or changes is one more write (two when its key changes: a delete and
  a put), of ceil(entry size / 1 KB) WCU, the entry being its keys, the table's keys and the projected
  attributes plus 100 bytes; index writes are never doubled.
"""

from __future__ import annotations

import base64
import json
import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

WRITES_PATH = "/_careforall/dynamodb-writes"
_WRITE_OPERATIONS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
_HOTTEST_SHOWN = 5

KeySchema = Callable[[str], tuple[str, ...]]  # table name -> its key attributes (hash, then range)
Item = dict[str, Any]  # DynamoDB JSON: attribute name -> {type: value}
KB = 1024
INDEX_ENTRY_OVERHEAD = 100  # bytes DynamoDB adds to each index entry


@dataclass(frozen=True)
class IndexSchema:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    non_key_attributes: tuple[str, ...] = ()


class ItemStore(Protocol):
    """What the meter reads of the emulator: the table's global secondary indexes and an item's current image."""

    def indexes(self, table: str) -> tuple[IndexSchema, ...]: ...

    def get(self, table: str, key: Item) -> Item | None: ...


def attribute_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, as DynamoDB sizes it (names excluded)."""
    (kind, content), = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(content) if isinstance(content, (bytes, bytearray)) else len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: member}) for member in content)
    if kind == "L":
        return 3 + sum(attribute_size(member) + 1 for member in content)
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + attribute_size(member) + 1 for name, member in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in (item or {}).items())


def units(size: int) -> int:
    """Write capacity units of writing `size` bytes: one per started KB, at least one."""
    return max(1, math.ceil(size / KB))


def index_writes(index: IndexSchema, table_keys: tuple[str, ...], before: Item | None, after: Item | None
                 ) -> list[int]:
    """The WCU of each write the table's write makes to `index` (an empty list: the index is untouched)."""
    old, new = _entry(index, table_keys, before), _entry(index, table_keys, after)
    if old is None and new is None:
        return []
    if old is None or new is None:
        return [units(item_size(old if new is None else new) + INDEX_ENTRY_OVERHEAD)]
    if any(old[name] != new[name] for name in index.keys):  # the entry moves: a delete and a put
        return [units(item_size(old) + INDEX_ENTRY_OVERHEAD), units(item_size(new) + INDEX_ENTRY_OVERHEAD)]
    if old != new:
        return [units(max(item_size(old), item_size(new)) + INDEX_ENTRY_OVERHEAD)]
    return []


def _entry(index: IndexSchema, table_keys: tuple[str, ...], item: Item | None) -> Item | None:
    """The item's entry in a sparse index: None when the item lacks one of the index's keys."""
    if item is None or any(name not in item for name in index.keys):
        return None
    if index.projection == "ALL":
        return dict(item)
    names = set(index.keys) | set(table_keys)
    if index.projection == "INCLUDE":
        names |= set(index.non_key_attributes)
    return {name: value for name, value in item.items() if name in names}


def write_operation(environ: dict[str, Any]) -> str | None:
    """The DynamoDB write operation of a request (X-Amz-Target), or None for anything else."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    operation = target.removeprefix("DynamoDB_20120810.")
    return operation if operation != target and operation in _WRITE_OPERATIONS else None


def _moto_table(name: str):
    """A table moto holds, in whatever account and region it was created; None when there is none."""
    from moto.dynamodb.models import dynamodb_backends

    for regions in list(dynamodb_backends.values()):
        for backend in list(regions.values()):
            table = backend.tables.get(name)
            if table is not None:
                return table
    return None


def moto_key_schema(table_name: str) -> tuple[str, ...]:
    """The key attributes of a table moto holds (hash, then range)."""
    table = _moto_table(table_name)
    return tuple(k for k in (table.hash_key_attr, table.range_key_attr) if k) if table is not None else ()


class MotoItemStore:
    """Reads moto's tables in this process (the emulator's)."""

    def indexes(self, table: str) -> tuple[IndexSchema, ...]:
        found = _moto_table(table)
        return tuple(IndexSchema(index.name, tuple(index.schema_key_attrs),
                                 (index.projection or {}).get("ProjectionType", "ALL"),
                                 tuple((index.projection or {}).get("NonKeyAttributes", [])))
                     for index in (found.global_indexes if found is not None else []))

    def get(self, table: str, key: Item) -> Item | None:
        from moto.dynamodb.models.dynamo_type import DynamoType

        found = _moto_table(table)
        if found is None or found.hash_key_attr not in key:
            return None
        range_key = key.get(found.range_key_attr) if found.range_key_attr else None
        item = found.get_item(DynamoType(key[found.hash_key_attr]), DynamoType(range_key) if range_key else None)
        return item.to_json()["Attributes"] if item is not None else None


@dataclass
class _Target:
    """One item a write request touches: written (Put, Update, Delete) or only checked (ConditionCheck)."""

    table: str
    key: Item
    action: str  # Put | Update | Delete | ConditionCheck
    kind: str  # single | transactional | batch: how it was written
    request_item: Item | None  # what a Put writes
    before: Item | None = None

    @property
    def transactional(self) -> bool:
        return self.kind == "transactional"


class DynamoDBWriteMeter:
    def __init__(self, key_schema: KeySchema = moto_key_schema, store: ItemStore | None = None) -> None:
        self._key_schema = key_schema
        self._store = store or MotoItemStore()
        self._schemas: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._items: Counter[tuple[str, str]] = Counter()
        self._kinds: Counter[tuple[str, str]] = Counter()  # (table, single|transactional|batch|rejected)
        # (table, wcu|rejected_wcu|condition_checks|gsi_writes|gsi_wcu|index:<name>)
        self._billing: Counter[tuple[str, str]] = Counter()

    def before(self, operation: str, body: bytes) -> list[_Target]:
        """The images of the items a write request is about to touch: call it just before the write, under the
        same lock, and hand the result to `record`."""
        try:
            targets = list(self._targets(operation, json.loads(body or b"{}")))
        except (ValueError, TypeError, AttributeError, KeyError):
            return []
        for target in targets:
            target.before = self._store.get(target.table, target.key)
        return targets

    def record(self, operation: str, body: bytes, status: int, response: bytes,
               targets: list[_Target] | None = None) -> None:
        """Count a write request once it was answered. Capacity is billed only with `targets` from `before`:
        it needs the items' images."""
        try:
            parsed = targets if targets is not None else list(self._targets(operation, json.loads(body or b"{}")))
            unprocessed = self._unprocessed(operation, response) if status == 200 else set()
        except (ValueError, TypeError, AttributeError, KeyError):
            return  # a request moto refused as malformed wrote nothing
        written = [t for t in parsed if t.action != "ConditionCheck" and self._key(t) not in unprocessed]
        billing = self._bill(parsed, written, status) if targets is not None else Counter()
        with self._lock:
            for target in written:
                if status == 200:
                    self._items[(target.table, self._key(target))] += 1
                    self._kinds[(target.table, target.kind)] += 1
                else:
                    self._kinds[(target.table, "rejected")] += 1
            self._billing.update(billing)

    def _bill(self, targets: list[_Target], written: list[_Target], status: int) -> Counter[tuple[str, str]]:
        billing: Counter[tuple[str, str]] = Counter()
        for target in targets:
            if target.action == "ConditionCheck":  # only ever in a transaction: billed as a transactional write
                billing[(target.table, "condition_checks")] += 1
                billing[(target.table, "wcu")] += 2 * units(item_size(target.before))
        for target in written:
            factor = 2 if target.transactional else 1
            if status != 200:
                size = item_size(target.request_item) if target.action == "Put" else item_size(target.before)
                billing[(target.table, "rejected_wcu")] += factor * units(size)
                continue
            after = None if target.action == "Delete" else self._store.get(target.table, target.key)
            billing[(target.table, "wcu")] += factor * units(max(item_size(target.before), item_size(after)))
            for index in self._store.indexes(target.table):
                costs = index_writes(index, tuple(target.key), target.before, after)
                billing[(target.table, "gsi_writes")] += len(costs)
                billing[(target.table, "gsi_wcu")] += sum(costs)
                billing[(target.table, f"index:{index.name}")] += len(costs)
        return billing

    def reset(self) -> None:
        with self._lock:
            self._items.clear()
            self._kinds.clear()
            self._billing.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            items, kinds, billing = Counter(self._items), Counter(self._kinds), Counter(self._billing)
        tables: dict[str, dict[str, Any]] = {}

        def row_of(table: str) -> dict[str, Any]:
            return tables.setdefault(table, {"writes": 0, "single": 0, "transactional": 0, "batch": 0, "rejected": 0,
                                             "wcu": 0, "rejected_wcu": 0, "condition_checks": 0, "gsi_writes": 0,
                                             "gsi_wcu": 0, "indexes": {}, "items": 0, "hottest": []})

        for (table, kind), count in kinds.items():
            row = row_of(table)
            row[kind] += count
            if kind != "rejected":
                row["writes"] += count
        for (table, kind), count in billing.items():
            row = row_of(table)
            if kind.startswith("index:"):
                row["indexes"][kind.removeprefix("index:")] = count
            else:
                row[kind] += count
        for table, row in tables.items():
            per_item = [(key, count) for (t, key), count in items.items() if t == table]
            row["items"] = len(per_item)
            row["hottest"] = [{"key": json.loads(key), "writes": count}
                              for key, count in sorted(per_item, key=lambda kc: -kc[1])[:_HOTTEST_SHOWN]]
        return {"writes": sum(row["writes"] for row in tables.values()),
                "rejected": sum(row["rejected"] for row in tables.values()),
                **{name: sum(row[name] for row in tables.values())
                   for name in ("wcu", "rejected_wcu", "condition_checks", "gsi_writes", "gsi_wcu")},
                "tables": tables}

    # ------------------------------------------------------------------------------------------------
    def _targets(self, operation: str, request: dict):
        if operation in {"PutItem", "UpdateItem", "DeleteItem"}:
            table = request["TableName"]
            item = request.get("Item")
            yield _Target(table, self._key_item(table, request.get("Key") or item), operation.removesuffix("Item"),
                          "single", item)
        elif operation == "TransactWriteItems":
            for entry in request["TransactItems"]:
                for action in ("Put", "Update", "Delete", "ConditionCheck"):
                    if action in entry:
                        part, table = entry[action], entry[action]["TableName"]
                        yield _Target(table, self._key_item(table, part.get("Key") or part["Item"]), action,
                                      "transactional", part.get("Item"))
        else:  # BatchWriteItem
            for table, requests in request["RequestItems"].items():
                for entry in requests:
                    put = (entry.get("PutRequest") or {}).get("Item")
                    key = put or (entry.get("DeleteRequest") or {})["Key"]
                    yield _Target(table, self._key_item(table, key), "Put" if put else "Delete", "batch", put)

    def _unprocessed(self, operation: str, response: bytes) -> set[str]:
        """The keys of a BatchWriteItem's requests that came back unprocessed: not written."""
        if operation != "BatchWriteItem" or not response:
            return set()
        return {self._key(target)
                for target in self._targets(operation, {"RequestItems": json.loads(response).get("UnprocessedItems", {})})}

    def _key_item(self, table: str, item: dict) -> Item:
        if table not in self._schemas:
            self._schemas[table] = self._key_schema(table) or tuple(sorted(item))
        return {name: item[name] for name in self._schemas[table] if name in item}

    @staticmethod
    def _key(target: _Target) -> str:
        return json.dumps(target.key, sort_keys=True)
