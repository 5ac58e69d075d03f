"""Two corrections to moto's DynamoDB, applied in the emulator process only.

1. Conditional writes are atomic. moto checks a condition and then writes, with no lock, while
   the server runs requests on many threads: two conditional puts of one key can both pass the
   check. DynamoDB requests are therefore served one at a time (`DYNAMODB_LOCK`, taken by the
   emulator's WSGI router). moto is CPU-bound under the GIL, so this costs no throughput.

2. TransactWriteItems in O(items), not O(table). moto deep-copies every table a transaction
   touches, to roll back on failure: at 10,000 pledges one transaction took ~150 ms. For
   transactions of ConditionCheck, Put, Delete and at most one Update (ours), every condition is
   checked first and the writes are applied only if all pass, the Update first, so nothing needs
   rolling back. Transactions with several Updates keep moto's own implementation (its update
   validation can fail half-way).

3. SQS FIFO deduplication lasts 5 minutes from the first send, as on AWS. moto compares a new
   message only with those still in the queue, so once a consumer deleted the first, a
   republished copy (the outbox relay retrying after a crash) got through.
"""

from __future__ import annotations

import threading
from typing import Any

DYNAMODB_LOCK = threading.RLock()


def is_dynamodb_request(environ: dict[str, Any]) -> bool:
    return environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_20120810.")


def apply() -> None:
    _patch_transactions()
    _patch_fifo_deduplication()


def _patch_fifo_deduplication() -> None:
    from moto.sqs.models import DEDUPLICATION_TIME_IN_SECONDS, Queue

    original = Queue.add_message
    window_ms = DEDUPLICATION_TIME_IN_SECONDS * 1000

    def add_message(self: Queue, message: Any) -> None:
        content_based = self.attributes.get("ContentBasedDeduplication") == "true"
        if self.fifo_queue and (content_based or message.deduplication_id):
            per_group = self.attributes.get("DeduplicationScope") == "messageGroup"
            key = (message.group_id if per_group else None, message.deduplication_id)
            seen: dict = self.__dict__.setdefault("_careforall_deduplication", {})
            now = int(message.sent_timestamp)
            first = seen.get(key)
            if first is not None and now - first < window_ms:
                return  # accepted by SendMessage, never delivered: AWS's deduplication interval
            if len(seen) > 10_000:  # forget what is older than the interval
                for old in [k for k, sent in seen.items() if now - sent >= window_ms]:
                    del seen[old]
            seen[key] = now
        return original(self, message)

    Queue.add_message = add_message


def _patch_transactions() -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (MultipleTransactionsException, TooManyTransactionsException,
                                          TransactionCanceledException, TransactWriteSingleOpException)
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        if any(len(item) != 1 for item in transact_items):
            raise TransactWriteSingleOpException
        kinds = [next(iter(item)) for item in transact_items]
        if kinds.count("Update") > 1 or any(k not in ("ConditionCheck", "Put", "Delete", "Update") for k in kinds):
            return original(self, transact_items)
        with DYNAMODB_LOCK:
            planned: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
            outcomes: list[tuple[Any, Any, Any]] = []
            targets: set[tuple[str, str]] = set()
            for item in transact_items:
                op_type, op = next(iter(item.items()))
                table_name = op["TableName"]
                table = self.get_table(table_name)
                if op_type == "Put":
                    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = op["Item"][table.range_key_attr]
                else:
                    key = op["Key"]
                target = (str(table_name), str(dict(sorted(key.items()))))
                if target in targets:
                    raise MultipleTransactionsException()
                targets.add(target)
                current = self.get_item(table_name, key)
                condition = op.get("ConditionExpression")
                if condition is not None and not get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                ).expr(current):
                    old = (current.to_json()["Attributes"]
                           if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None)
                    outcomes.append(("ConditionalCheckFailed", "The conditional request failed", old))
                else:
                    outcomes.append((None, None, None))
                planned.append((op_type, table_name, key, op))
            if any(code is not None for code, _, _ in outcomes):
                raise TransactionCanceledException(outcomes)
            # The one Update goes first: moto validates its expression only while applying it, and
            # if that fails nothing else has been written yet.
            planned.sort(key=lambda step: step[0] != "Update")
            for op_type, table_name, key, op in planned:
                if op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=op.get("ExpressionAttributeNames"),
                                     expression_attribute_values=op.get("ExpressionAttributeValues"))
                elif op_type == "Put":
                    self.put_item(table_name, op["Item"])
                elif op_type == "Delete":
                    self.delete_item(table_name, key)

    DynamoDBBackend.transact_write_items = transact_write_items
