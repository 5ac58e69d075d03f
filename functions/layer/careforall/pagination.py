"""Opaque cursors: a DynamoDB LastEvaluatedKey as base64url JSON, checked on the way back in."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from careforall.errors import ValidationFailedError

MAX_CURSOR_LENGTH = 1024


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, expected_keys: set[str]) -> dict[str, str] | None:
    """Reject anything we did not issue: wrong encoding, wrong shape, or keys of another index."""
    if cursor is None or cursor == "":
        return None
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
        if not isinstance(key, dict) or set(key) != expected_keys or not all(isinstance(v, str) for v in key.values()):
            raise ValueError("unexpected shape")
        return key
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailedError(
            "The cursor is not valid; use next_cursor from a previous page.",
            errors=[{"loc": ["query", "cursor"], "type": "cursor_invalid", "msg": "invalid cursor"}],
        ) from None
