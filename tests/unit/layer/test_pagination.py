"""Opaque cursors: what we issue comes back intact; anything else is a 422."""

from __future__ import annotations

import base64
import json

import pytest

from careforall.errors import ValidationFailedError
from careforall.pagination import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor

KEYS = {"id", "created_sort", "entity"}
LAST_KEY = {"id": "c-1", "created_sort": "2025-01-01T00:00:00.000Z#c-1", "entity": "CAMPAIGN"}


def _raw_cursor(payload) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_encode_then_decode_round_trip_gives_same_key():
    cursor = encode_cursor(LAST_KEY)

    assert decode_cursor(cursor, KEYS) == LAST_KEY


def test_encode_cursor_any_key_gives_url_safe_text():
    cursor = encode_cursor({"id": "???>>>~~~", "created_sort": "ÿÿÿ", "entity": "CAMPAIGN"})

    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor, KEYS)["id"] == "???>>>~~~"


@pytest.mark.parametrize("last_key", [None, {}])
def test_encode_cursor_no_last_key_gives_none(last_key):
    assert encode_cursor(last_key) is None


@pytest.mark.parametrize("cursor", [None, ""])
def test_decode_cursor_absent_gives_none(cursor):
    assert decode_cursor(cursor, KEYS) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not-base64!!!",
        "abc",
        _raw_cursor("not json"),
        _raw_cursor([1, 2, 3]),
        _raw_cursor("null"),
        _raw_cursor({"id": "c-1"}),  # keys missing
        _raw_cursor({**LAST_KEY, "extra": "x"}),  # keys added
        _raw_cursor({"id": "c-1", "created_sort": "x", "status": "ACTIVE"}),  # keys of another index
        _raw_cursor({**LAST_KEY, "id": 5}),  # not a string
        _raw_cursor({**LAST_KEY, "id": {"S": "c-1"}}),  # raw DynamoDB attribute
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),  # not UTF-8
        "A" * (MAX_CURSOR_LENGTH + 1),
    ],
)
def test_decode_cursor_tampered_raises_validation_error(cursor):
    with pytest.raises(ValidationFailedError) as raised:
        decode_cursor(cursor, KEYS)

    error = raised.value
    assert error.status == 422
    assert error.extensions["errors"][0]["loc"] == ["query", "cursor"]


def test_decode_cursor_edited_value_keeps_shape_and_is_accepted():
    # The cursor is opaque, not signed: an edited value of the right shape only moves the start point.
    edited = _raw_cursor({**LAST_KEY, "id": "c-2"})

    assert decode_cursor(edited, KEYS)["id"] == "c-2"
