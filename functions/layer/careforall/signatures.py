"""Payment provider webhook signatures: `CareForAll-Signature: t=<unix seconds>,v1=<hex>`,
v1 = HMAC-SHA256(secret, "<t>.<raw body>"), as Stripe signs its webhooks.

Verification compares in constant time and refuses a timestamp more than `tolerance` seconds old
(or in the future), so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "CareForAll-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """Missing, malformed, wrong, or too old."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    moment = int(time.time()) if timestamp is None else int(timestamp)
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def verify(secret: str, body: bytes, header: str | None, tolerance: int = DEFAULT_TOLERANCE_SECONDS,
           now: float | None = None) -> None:
    if not header:
        raise SignatureError("missing signature header")
    parts: dict[str, list[str]] = {}
    for piece in header.split(","):
        key, _, value = piece.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError, IndexError):
        raise SignatureError("malformed signature header") from None
    current = int(time.time() if now is None else now)  # whole seconds, as `t` is: a 300 s old one is still in
    if abs(current - timestamp) > tolerance:
        raise SignatureError("signature timestamp outside the tolerance")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest().encode()
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a TypeError, not a 401).
    if not any(hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
               for candidate in parts.get("v1", [])):
        raise SignatureError("signature mismatch")
