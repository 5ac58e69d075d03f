"""The emulator's DynamoDB write meter: what make bench's writes per donation are made of."""

from __future__ import annotations

import json

import pytest
from careforall_local.write_meter import DynamoDBWriteMeter, write_operation

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

    assert meter.snapshot() == {"writes": 0, "rejected": 0, "tables": {}}


def test_reset_forgets_every_count(meter: DynamoDBWriteMeter) -> None:
    send(meter, "DeleteItem", {"TableName": "Pledges", "Key": {"pk": s("P#1")}})

    meter.reset()

    assert meter.snapshot()["writes"] == 0
