"""DynamoDB plumbing shared by the services' data-access layers (the only modules that import boto3).

Clients are created once per container and reused; boto3 honours AWS_ENDPOINT_URL, which is how
the local stack points every function at the emulator.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

from careforall import contention

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Short connect/read timeouts: an API call must fail fast and be retried, not hang the function.
_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@cache
def client():
    return boto3.client("dynamodb", config=_CONFIG)


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def to_values(values: dict[str, Any]) -> dict[str, Any]:
    """ExpressionAttributeValues from plain Python values."""
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def is_condition_failure(error: Exception) -> bool:
    return contention.error_code(error) == "ConditionalCheckFailedException"
