"""Receipt tokens: the secret a guest gets with a new pledge, to read it (`GET /pledges/{id}?receipt_token=`) and
to follow it over the WebSocket (`/ws?pledge_id=<id>&receipt_token=<t>`).

Only the token's SHA-256 is stored on the pledge; both places check a token with `matches`, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    """A new receipt token: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the pledge keeps of its token (`receipt_token_hash`)."""
    return hashlib.sha256(token.encode()).hexdigest()


def matches(token: str, stored_hash: str | None) -> bool:
    """True when `token` is the one whose hash the pledge keeps; False for any other token or no hash."""
    if not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)
