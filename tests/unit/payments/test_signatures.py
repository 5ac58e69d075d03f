"""Webhook signatures: `CareForAll-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from careforall import signatures
from careforall.signatures import SignatureError, sign, verify

SECRET = "whsec-unit-test-0123456789abcdef"
BODY = b'{"id":"evt_1","type":"payment.authorized","created":1744202096,"data":{"payment_id":"p-1"}}'
NOW = 1_744_202_096


def _v1(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def test_sign_then_verify_round_trip_is_accepted():
    verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW), now=NOW)


def test_sign_header_has_timestamp_and_hmac_of_timestamp_dot_body():
    assert sign(SECRET, BODY, timestamp=NOW) == f"t={NOW},v1={_v1(SECRET, NOW, BODY)}"


def test_sign_without_timestamp_uses_current_time(monkeypatch):
    monkeypatch.setattr(signatures.time, "time", lambda: NOW + 0.7)

    assert sign(SECRET, BODY).startswith(f"t={NOW},")


def test_header_name_is_careforall_signature():
    assert signatures.HEADER == "CareForAll-Signature"


@pytest.mark.parametrize("header", [None, ""])
def test_verify_missing_header_is_refused(header):
    with pytest.raises(SignatureError, match="missing"):
        verify(SECRET, BODY, header, now=NOW)


@pytest.mark.parametrize("header", ["garbage", "v1=abc", "t=,v1=abc", "t=yesterday,v1=abc", "t=1.5,v1=abc"])
def test_verify_malformed_header_is_refused(header):
    with pytest.raises(SignatureError, match="malformed"):
        verify(SECRET, BODY, header, now=NOW)


def test_verify_header_without_v1_is_refused():
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, f"t={NOW}", now=NOW)


def test_verify_wrong_secret_is_refused():
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, sign("another-secret", BODY, timestamp=NOW), now=NOW)


def test_verify_tampered_body_is_refused():
    header = sign(SECRET, BODY, timestamp=NOW)

    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY.replace(b"authorized", b"completed"), header, now=NOW)


def test_verify_signature_moved_to_another_timestamp_is_refused():
    header = f"t={NOW + 1},v1={_v1(SECRET, NOW, BODY)}"

    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, header, now=NOW)


def test_verify_timestamp_301_seconds_old_is_refused():
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW - 301), now=NOW)


def test_verify_timestamp_301_seconds_in_future_is_refused():
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW + 301), now=NOW)


@pytest.mark.parametrize("offset", [-299, 299, -300, 300])
def test_verify_timestamp_within_300_seconds_is_accepted(offset):
    verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW + offset), now=NOW)


def test_verify_custom_tolerance_is_honoured():
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW - 11), tolerance=10, now=NOW)


def test_verify_without_now_uses_current_time(monkeypatch):
    monkeypatch.setattr(signatures.time, "time", lambda: float(NOW + 301))

    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW))


def test_verify_multiple_v1_values_where_one_matches_is_accepted():
    header = f"t={NOW},v1={'0' * 64},v1={_v1(SECRET, NOW, BODY)},v1={_v1('old-secret', NOW, BODY)}"

    verify(SECRET, BODY, header, now=NOW)


def test_verify_multiple_v1_values_where_none_matches_is_refused():
    header = f"t={NOW},v1={'0' * 64},v1={_v1('old-secret', NOW, BODY)}"

    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, header, now=NOW)


def test_verify_spaces_around_parts_are_tolerated():
    verify(SECRET, BODY, f"t={NOW}, v1={_v1(SECRET, NOW, BODY)}", now=NOW)


def test_verify_non_ascii_signature_is_refused_not_crashing():
    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, f"t={NOW},v1=\u00e9{_v1(SECRET, NOW, BODY)[1:]}", now=NOW)


def test_verify_compares_with_hmac_compare_digest(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)

    verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW), now=NOW)

    assert len(calls) == 1
    assert {bytes(x) if isinstance(x, bytes) else x.encode() for x in calls[0]} == {_v1(SECRET, NOW, BODY).encode()}


def test_verify_never_compares_signatures_with_equality_operator(monkeypatch):
    """A spy that refuses the comparison proves the verdict comes from compare_digest alone."""
    monkeypatch.setattr(signatures.hmac, "compare_digest", lambda a, b: False)

    with pytest.raises(SignatureError, match="mismatch"):
        verify(SECRET, BODY, sign(SECRET, BODY, timestamp=NOW), now=NOW)
