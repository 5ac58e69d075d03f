"""Request models of the pledges service: amount, idempotency key, payment method, message and name edges."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from pledges_service.models import (IDEMPOTENCY_KEY, MAX_PLEDGE, CreatePledgeRequest, LookupRequest, PledgeOut,
                                    PledgeRecord)


def _pledge(**fields) -> CreatePledgeRequest:
    return CreatePledgeRequest.model_validate({"amount": "25.00", **fields})


def _error_types(error: ValidationError, field: str) -> set[str]:
    return {e["type"] for e in error.errors() if e["loc"][0] == field}


# ------------------------------------------------------------------------------------------ amount
@pytest.mark.parametrize(("amount", "expected"), [
    ("0.01", Decimal("0.01")), (0.01, Decimal("0.01")), ("1", Decimal("1.00")), (25, Decimal("25.00")),
    (25.5, Decimal("25.50")), ("0.1", Decimal("0.10")), (" 7.5 ", Decimal("7.50")), ("1e2", Decimal("100.00")),
    ("999999.99", Decimal("999999.99")), ("1000000", MAX_PLEDGE), ("1000000.00", MAX_PLEDGE),
    (1000000, MAX_PLEDGE),
])
def test_amount_positive_up_to_one_million_with_two_digits_is_accepted(amount, expected):
    assert _pledge(amount=amount).amount == expected


@pytest.mark.parametrize("amount", [0, "0", "0.00", "-0.00", -1, "-25.00", "-0.01"])
def test_amount_zero_or_negative_is_rejected(amount):
    with pytest.raises(ValidationError) as raised:
        _pledge(amount=amount)

    assert _error_types(raised.value, "amount") == {"greater_than"}


@pytest.mark.parametrize("amount", ["1000000.01", 1000000.01, "1000001", "1e7", 10**12])
def test_amount_over_one_million_is_rejected(amount):
    with pytest.raises(ValidationError) as raised:
        _pledge(amount=amount)

    assert _error_types(raised.value, "amount") == {"less_than_equal"}


@pytest.mark.parametrize("amount", ["25.001", "25.000", 25.001, "0.001", "0.005"])
def test_amount_with_more_than_two_fraction_digits_is_rejected(amount):
    with pytest.raises(ValidationError) as raised:
        _pledge(amount=amount)

    assert "two fraction digits" in raised.value.errors()[0]["msg"]


@pytest.mark.parametrize("amount", ["", "  ", "abc", "25,00", "$25", "NaN", "Infinity", "-Infinity", True, False,
                                    None, [], {}, "1" * 40])
def test_amount_not_a_finite_decimal_is_rejected(amount):
    with pytest.raises(ValidationError):
        _pledge(amount=amount)


def test_amount_missing_is_rejected():
    with pytest.raises(ValidationError) as raised:
        CreatePledgeRequest.model_validate({"donor_email": "guest@example.com"})

    assert _error_types(raised.value, "amount") == {"missing"}


def test_amount_serializes_as_two_digit_string():
    assert _pledge(amount=25.5).model_dump(mode="json")["amount"] == "25.50"


# ------------------------------------------------------------------------------------------ idempotency key
@pytest.mark.parametrize("key", ["k", "k" * 255, " ", "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b", "order 42/retry#1",
                                 "".join(chr(c) for c in range(0x20, 0x7f))])
def test_idempotency_key_printable_ascii_1_to_255_matches(key):
    assert IDEMPOTENCY_KEY.match(key)


@pytest.mark.parametrize("key", ["", "k" * 256, "naïve", "key\u200b", "tab\t", "\x00", "\x1f", "\x7f", "a\nb",
                                 "trailing\n", "trailing\r\n", "k" * 255 + "\n"])
def test_idempotency_key_empty_long_or_non_printable_does_not_match(key):
    assert not IDEMPOTENCY_KEY.match(key)


# ------------------------------------------------------------------------------------------ payment method
def test_payment_method_defaults_to_pm_card_visa():
    assert _pledge().payment_method == "pm_card_visa"


@pytest.mark.parametrize("method", ["pm_card_visa", "pm_card_chargeDeclined", "pm_x", "pm_" + "a" * 64,
                                    "pm_card_visa_debit_2"])
def test_payment_method_sandbox_token_shape_is_accepted(method):
    assert _pledge(payment_method=method).payment_method == method


@pytest.mark.parametrize("method", ["", "pm_", "card_visa", "PM_card_visa", "pm-card-visa", "pm_card visa",
                                    "pm_card-visa", "pm_" + "a" * 65, "pm_card_visa\n", "pm_cärd", 42, None])
def test_payment_method_other_shape_is_rejected(method):
    with pytest.raises(ValidationError) as raised:
        _pledge(payment_method=method)

    assert _error_types(raised.value, "payment_method")


# ------------------------------------------------------------------------------------------ message
@pytest.mark.parametrize("message", ["", "Thank you!", "m" * 500, "Line one\nLine two\r\n\tindented", "💧 für Zürich"])
def test_message_up_to_500_chars_with_newlines_is_accepted(message):
    assert _pledge(message=message).message == message


def test_message_defaults_to_none():
    assert _pledge().message is None


def test_message_over_500_chars_is_rejected():
    with pytest.raises(ValidationError) as raised:
        _pledge(message="m" * 501)

    assert _error_types(raised.value, "message") == {"string_too_long"}


@pytest.mark.parametrize("message", ["bell\x07", "nul\x00", "esc\x1b[31m", "del\x7f", "\x0b", "\x0c"])
def test_message_with_control_characters_is_rejected(message):
    with pytest.raises(ValidationError) as raised:
        _pledge(message=message)

    assert "control characters" in raised.value.errors()[0]["msg"]


# ------------------------------------------------------------------------------------------ donor name
@pytest.mark.parametrize(("name", "expected"), [("Grace Hopper", "Grace Hopper"), ("  Ada  ", "Ada"), ("X", "X"),
                                                ("n" * 100, "n" * 100), ("Zoë Ñúñez 李", "Zoë Ñúñez 李")])
def test_donor_name_1_to_100_chars_is_accepted_and_trimmed(name, expected):
    assert _pledge(donor_name=name).donor_name == expected


@pytest.mark.parametrize("name", ["", "   ", "n" * 101, "Grace\x00", "Ada\x1b", "Ada\x7f", "Ada\nLovelace",
                                  "Ada\tLovelace", "Ada\rLovelace"])
def test_donor_name_empty_long_or_with_control_characters_is_rejected(name):
    with pytest.raises(ValidationError) as raised:
        _pledge(donor_name=name)

    assert _error_types(raised.value, "donor_name")


# ------------------------------------------------------------------------------------------ donor email
@pytest.mark.parametrize(("email", "expected"), [("guest@example.com", "guest@example.com"),
                                                  ("  Guest@EXAMPLE.com ", "Guest@example.com"),
                                                  ("admin@careforall.local", "admin@careforall.local")])
def test_donor_email_valid_is_normalized(email, expected):
    assert _pledge(donor_email=email).donor_email == expected


@pytest.mark.parametrize("email", ["", "guest", "guest@", "@example.com", "guest@@example.com", "a b@example.com",
                                   "g" * 250 + "@example.com"])
def test_donor_email_invalid_is_rejected(email):
    with pytest.raises(ValidationError) as raised:
        _pledge(donor_email=email)

    assert _error_types(raised.value, "donor_email")


def test_donor_email_is_optional_in_the_schema():
    # whether it is required depends on the caller: the service decides (guests must give one)
    assert _pledge().donor_email is None


# ------------------------------------------------------------------------------------------ shape
@pytest.mark.parametrize("field", ["donor_id", "currency", "status", "id", "campaign_id"])
def test_create_request_with_unknown_field_is_rejected(field):
    with pytest.raises(ValidationError) as raised:
        _pledge(**{field: "x"})

    assert _error_types(raised.value, field) == {"extra_forbidden"}


def test_lookup_request_requires_valid_email():
    assert LookupRequest.model_validate({"email": " Guest@Example.COM "}).email == "Guest@example.com"
    with pytest.raises(ValidationError):
        LookupRequest.model_validate({"email": "not-an-email"})
    with pytest.raises(ValidationError):
        LookupRequest.model_validate({"email": "guest@example.com", "extra": 1})


def test_pledge_record_defaults_to_pending_first_response_201():
    record = PledgeRecord(id="p", campaign_id="c", donor_email="g@example.com", amount_cents=2500, currency="USD",
                          payment_method="pm_card_visa", created_at="t", updated_at="t", scope="guest",
                          fingerprint="f", receipt_token_hash="h")

    assert (record.status.value, record.response_status, record.donor_id, record.payment) == (
        "PENDING", 201, None, None)


def test_pledge_out_serializes_amount_as_string():
    out = PledgeOut(id="p", campaign_id="c", donor_email="g@example.com", donor_name=None, message=None,
                    amount=Decimal("1000000"), currency="USD", status="PENDING", payment=None, created_at="t",
                    updated_at="t")

    assert out.model_dump(mode="json")["amount"] == "1000000.00"
