"""The emulator's DynamoDB write meter: what make bench's writes per donation are made of."""

from __future__ import annotations

import json

import pytest
from careforall_local.write_meter import (DynamoDBWriteMeter, IndexSchema, attribute_size, index_writes, item_size,
                                          write_operation)

SCHEMAS = {"Totals": ("campaign_id",), "Ledger": ("payment_id",), "Pledges": ("pk",)}


@pytest.fixture
def meter() -> DynamoDBWriteMeter:
    return DynamoDBWriteMeter(key_schema=lambda table: SCHEMAS.get(table, ()))


def s(value: str) -> dict:
    return {"S": value}


def send(meter: DynamoDBWriteMeter, operation: str, request: dict, status: int = 200, response: dict | None = None):
    meter.record(operation, json.dumps(request).encode(), status, json.dumps(response or {}).encode())


def test_write_operation_when_target_is_a_write_names_it() -> None:
    assert write_operation({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems"}) == "TransactWriteItems"


@pytest.mark.parametrize("target", ["DynamoDB_20120810.GetItem", "DynamoDB_20120810.Query", "AmazonSQS.SendMessage", ""])
def test_write_operation_when_target_reads_or_is_not_dynamodb_is_none(target: str) -> None:
    assert write_operation({"HTTP_X_AMZ_TARGET": target}) is None


def test_record_put_item_counts_one_write_keyed_by_the_table_key(meter: DynamoDBWriteMeter) -> None:
    send(meter, "PutItem", {"TableName": "Pledges", "Item": {"pk": s("P#1"), "amount_cents": {"N": "100"}}})

    table = meter.snapshot()["tables"]["Pledges"]
    assert (table["writes"], table["single"], table["items"]) == (1, 1, 1)
    assert table["hottest"] == [{"key": {"pk": s("P#1")}, "writes": 1}]


def test_record_transaction_counts_each_write_but_not_condition_checks(meter: DynamoDBWriteMeter) -> None:
    send(meter, "TransactWriteItems", {"TransactItems": [
        {"Update": {"TableName": "Totals", "Key": {"campaign_id": s("c1")}, "UpdateExpression": "ADD n :one"}},
        {"Put": {"TableName": "Ledger", "Item": {"payment_id": s("p1"), "version": {"N": "1"}}}},
        {"Put": {"TableName": "Ledger", "Item": {"payment_id": s("p2"), "version": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": "Pledges", "Key": {"pk": s("C#c1")}, "ConditionExpression": "x"}},
    ]})

    snapshot = meter.snapshot()
    assert snapshot["writes"] == 3
    assert snapshot["tables"]["Totals"]["transactional"] == 1
    assert snapshot["tables"]["Ledger"]["transactional"] == 2
    assert "Pledges" not in snapshot["tables"]


def test_record_same_item_twice_makes_it_the_hottest(meter: DynamoDBWriteMeter) -> None:
    for campaign in ("c1", "c2", "c1"):
        send(meter, "UpdateItem", {"TableName": "Totals", "Key": {"campaign_id": s(campaign)}})

    hottest = meter.snapshot()["tables"]["Totals"]["hottest"]
    assert hottest[0] == {"key": {"campaign_id": s("c1")}, "writes": 2}


def test_record_refused_write_counts_as_rejected_not_as_a_write(meter: DynamoDBWriteMeter) -> None:
    send(meter, "PutItem", {"TableName": "Pledges", "Item": {"pk": s("P#1")}}, status=400,
         response={"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"})

    snapshot = meter.snapshot()
    assert (snapshot["writes"], snapshot["rejected"]) == (0, 1)


def test_record_batch_write_skips_unprocessed_items(meter: DynamoDBWriteMeter) -> None:
    written = {"PutRequest": {"Item": {"pk": s("P#1")}}}
    unprocessed = {"DeleteRequest": {"Key": {"pk": s("P#2")}}}
    send(meter, "BatchWriteItem", {"RequestItems": {"Pledges": [written, unprocessed]}},
         response={"UnprocessedItems": {"Pledges": [unprocessed]}})

    table = meter.snapshot()["tables"]["Pledges"]
    assert (table["writes"], table["batch"]) == (1, 1)
    assert table["hottest"] == [{"key": {"pk": s("P#1")}, "writes": 1}]


def test_record_malformed_request_counts_nothing(meter: DynamoDBWriteMeter) -> None:
    meter.record("PutItem", b"not json", 400, b"{}")

    assert meter.snapshot() == {"writes": 0, "rejected": 0, "wcu": 0, "rejected_wcu": 0, "condition_checks": 0,
                                "gsi_writes": 0, "gsi_wcu": 0, "tables": {}}


def test_reset_forgets_every_count(meter: DynamoDBWriteMeter) -> None:
    send(meter, "DeleteItem", {"TableName": "Pledges", "Key": {"pk": s("P#1")}})

    meter.reset()

    assert meter.snapshot()["writes"] == 0


# ------------------------------------------------------------------------- write capacity as AWS bills it
class FakeStore:
    """Tables in a dict, with their global secondary indexes; `apply` plays the write the emulator would make."""

    def __init__(self, indexes: dict[str, tuple[IndexSchema, ...]]) -> None:
        self.tables: dict[str, dict[str, dict]] = {}
        self._indexes = indexes

    def indexes(self, table: str) -> tuple[IndexSchema, ...]:
        return self._indexes.get(table, ())

    def get(self, table: str, key: dict) -> dict | None:
        return self.tables.get(table, {}).get(json.dumps(key, sort_keys=True))

    def put(self, table: str, item: dict) -> None:
        key = {name: item[name] for name in SCHEMAS[table]}
        self.tables.setdefault(table, {})[json.dumps(key, sort_keys=True)] = item

    def delete(self, table: str, key: dict) -> None:
        self.tables.get(table, {}).pop(json.dumps(key, sort_keys=True), None)


BY_STATUS = IndexSchema("by_campaign_status", ("campaign_status",), "KEYS_ONLY")
BY_CAMPAIGN_ALL = IndexSchema("by_campaign", ("campaign_id",), "ALL")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore({"Pledges": (BY_STATUS, BY_CAMPAIGN_ALL)})


@pytest.fixture
def billed(store) -> DynamoDBWriteMeter:
    return DynamoDBWriteMeter(key_schema=lambda table: SCHEMAS.get(table, ()), store=store)


def write(meter, store, operation: str, request: dict, apply=lambda: None, status: int = 200) -> None:
    body = json.dumps(request).encode()
    targets = meter.before(operation, body)
    if status == 200:
        apply()
    meter.record(operation, body, status, b"{}", targets)


def padded(size: int) -> dict:
    """A string attribute `pad` that makes an item {pk: P#1, pad} exactly `size` bytes."""
    return {"S": "x" * (size - len("pk") - len("P#1") - len("pad"))}


@pytest.mark.parametrize("value,size", [
    (s("héllo"), 6), ({"N": "12345"}, 4), ({"N": "-0.00120"}, 2), ({"B": "AAEC"}, 3), ({"BOOL": True}, 1),
    ({"NULL": True}, 1), ({"SS": ["ab", "c"]}, 3), ({"L": [s("ab"), {"N": "1"}]}, 3 + 3 + 3),
    ({"M": {"k": s("v")}}, 3 + 1 + 1 + 1),
], ids=["utf-8 string", "number", "number trimmed", "binary", "bool", "null", "string set", "list", "map"])
def test_attribute_size_counts_as_dynamodb_sizes_values(value, size) -> None:
    assert attribute_size(value) == size


def test_item_size_adds_names_and_values() -> None:
    assert item_size({"pk": s("P#1"), "amount_cents": {"N": "2500"}}) == 2 + 3 + 12 + 2  # 2500: significant digits "25"


@pytest.mark.parametrize("size,wcu", [(500, 1), (1024, 1), (1025, 2), (3000, 3)])
def test_put_item_costs_one_wcu_per_started_kb(billed, store, size, wcu) -> None:
    item = {"pk": s("P#1"), "pad": padded(size)}
    assert item_size(item) == size

    write(billed, store, "PutItem", {"TableName": "Pledges", "Item": item}, lambda: store.put("Pledges", item))

    assert billed.snapshot()["wcu"] == wcu


def test_update_item_costs_the_larger_of_before_and_after(billed, store) -> None:
    store.put("Pledges", {"pk": s("P#1"), "pad": padded(900)})
    grown = {"pk": s("P#1"), "pad": padded(1100)}

    write(billed, store, "UpdateItem", {"TableName": "Pledges", "Key": {"pk": s("P#1")}},
          lambda: store.put("Pledges", grown))

    assert billed.snapshot()["wcu"] == 2


def test_transaction_costs_twice_and_its_condition_check_as_a_write(billed, store) -> None:
    store.put("Totals", {"campaign_id": s("c1"), "status": s("ACTIVE")})
    pledge = {"pk": s("P#1"), "pad": padded(300)}

    write(billed, store, "TransactWriteItems", {"TransactItems": [
        {"ConditionCheck": {"TableName": "Totals", "Key": {"campaign_id": s("c1")}}},
        {"Put": {"TableName": "Pledges", "Item": pledge}}]}, lambda: store.put("Pledges", pledge))

    snapshot = billed.snapshot()
    assert (snapshot["wcu"], snapshot["condition_checks"], snapshot["writes"]) == (4, 1, 1)


def test_refused_write_costs_what_it_would_have_written(billed, store) -> None:
    write(billed, store, "PutItem", {"TableName": "Pledges", "Item": {"pk": s("P#1"), "pad": padded(2000)}},
          status=400)

    snapshot = billed.snapshot()
    assert (snapshot["wcu"], snapshot["rejected_wcu"], snapshot["gsi_writes"]) == (0, 2, 0)


def test_index_put_adds_entry_of_keys_and_projection_plus_overhead() -> None:
    after = {"pk": s("P#1"), "campaign_status": s("c1#PENDING"), "pad": padded(2000)}

    assert index_writes(BY_STATUS, ("pk",), None, after) == [1]  # KEYS_ONLY: ~120 bytes
    assert index_writes(BY_CAMPAIGN_ALL, ("pk",), None, {**after, "campaign_id": s("c1")}) == [3]  # ALL: ~2.1 KB


def test_index_key_change_is_a_delete_and_a_put() -> None:
    before = {"pk": s("P#1"), "campaign_status": s("c1#PENDING")}

    assert index_writes(BY_STATUS, ("pk",), before, {**before, "campaign_status": s("c1#COMPLETED")}) == [1, 1]


def test_index_untouched_projection_costs_nothing() -> None:
    before = {"pk": s("P#1"), "campaign_status": s("c1#PENDING"), "status": s("PENDING")}

    assert index_writes(BY_STATUS, ("pk",), before, {**before, "status": s("COMPLETED")}) == []


def test_index_sparse_key_removed_deletes_entry() -> None:
    before = {"pk": s("P#1"), "campaign_status": s("c1#PENDING")}

    assert index_writes(BY_STATUS, ("pk",), before, {"pk": s("P#1")}) == [1]


def test_index_all_projection_any_change_rewrites_entry() -> None:
    before = {"pk": s("P#1"), "campaign_id": s("c1"), "status": s("PENDING")}

    assert index_writes(BY_CAMPAIGN_ALL, ("pk",), before, {**before, "status": s("COMPLETED")}) == [1]


def test_pledge_lifecycle_matches_hand_count(billed, store) -> None:
    """A pledge created in a transaction with the campaign's ConditionCheck, then projected COMPLETED.

    By hand: create = ConditionCheck 2 + Put 2 (transactional, each item under 1 KB) = 4 WCU, plus a put into
    each of the two indexes = 2 index writes of 1 WCU; projection = an update of 1 WCU, the KEYS_ONLY index's key
    moves (a delete and a put: 2 writes), the ALL index's entry is rewritten (1 write). In all: 5 WCU on the
    tables (Totals 2, Pledges 3) and 5 index writes of 1 WCU each: 10 WCU.
    """
    store.put("Totals", {"campaign_id": s("c1"), "status": s("ACTIVE")})
    pledge = {"pk": s("P#1"), "campaign_id": s("c1"), "campaign_status": s("c1#PENDING"), "status": s("PENDING")}
    write(billed, store, "TransactWriteItems", {"TransactItems": [
        {"ConditionCheck": {"TableName": "Totals", "Key": {"campaign_id": s("c1")}}},
        {"Put": {"TableName": "Pledges", "Item": pledge}}]}, lambda: store.put("Pledges", pledge))
    completed = {**pledge, "campaign_status": s("c1#COMPLETED"), "status": s("COMPLETED")}
    write(billed, store, "UpdateItem", {"TableName": "Pledges", "Key": {"pk": s("P#1")}},
          lambda: store.put("Pledges", completed))

    snapshot = billed.snapshot()
    pledges = snapshot["tables"]["Pledges"]
    assert (pledges["wcu"], pledges["gsi_writes"], pledges["gsi_wcu"]) == (3, 5, 5)
    assert snapshot["tables"]["Totals"]["wcu"] == 2 and snapshot["condition_checks"] == 1
    assert pledges["indexes"] == {"by_campaign_status": 3, "by_campaign": 2}
    assert snapshot["wcu"] + snapshot["gsi_wcu"] == 10
