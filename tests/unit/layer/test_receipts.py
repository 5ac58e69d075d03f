"""careforall.receipts: the receipt token check both GET /pledges/{id}?receipt_token= and the WebSocket's $connect use."""

from __future__ import annotations

import hashlib

import pytest

from careforall import receipts


def test_new_token_is_43_url_safe_characters_and_unique():
    tokens = {receipts.new_token() for _ in range(100)}

    assert len(tokens) == 100
    assert all(len(t) == 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


def test_token_hash_is_sha256_hex_of_token():
    assert receipts.token_hash("abc") == hashlib.sha256(b"abc").hexdigest()


def test_matches_with_own_token_returns_true():
    token = receipts.new_token()

    assert receipts.matches(token, receipts.token_hash(token)) is True


@pytest.mark.parametrize("stored", [receipts.token_hash("another-token"), "", None])
def test_matches_with_other_token_or_no_hash_returns_false(stored):
    assert receipts.matches("the-token", stored) is False
