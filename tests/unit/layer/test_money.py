"""Money: decimal strings or numbers in, two-fraction-digit strings out, cents in storage."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from careforall.money import Money, format_amount, from_cents, parse_amount, to_cents


class _Priced(BaseModel):
    amount: Money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("25", Decimal("25.00")),
        (25, Decimal("25.00")),
        (25.5, Decimal("25.50")),
        ("25.50", Decimal("25.50")),
        ("25.5", Decimal("25.50")),
        ("0.1", Decimal("0.10")),
        (0.1, Decimal("0.10")),
        ("0.01", Decimal("0.01")),
        (" 25.00 ", Decimal("25.00")),
        (Decimal("7.25"), Decimal("7.25")),
        ("1000000", Decimal("1000000.00")),
    ],
)
def test_parse_amount_valid_input_gives_two_digit_decimal(raw, expected):
    amount = parse_amount(raw)

    assert amount == expected
    assert amount.as_tuple().exponent == -2


def test_parse_amount_float_uses_shortest_repr_not_binary_expansion():
    # 0.1 + 0.2 is 0.30000000000000004 in binary floating point: more than two digits, so refused,
    # while 0.3 typed by a client means exactly 0.30.
    assert parse_amount(0.3) == Decimal("0.30")
    with pytest.raises(ValueError):
        parse_amount(0.1 + 0.2)


@pytest.mark.parametrize(
    "raw",
    ["25.001", "25.000", 25.001, "1e-5", 1e-5, "0.001"],
)
def test_parse_amount_more_than_two_fraction_digits_rejected(raw):
    with pytest.raises(ValueError, match="two fraction digits"):
        parse_amount(raw)


@pytest.mark.parametrize(
    "raw",
    ["NaN", "nan", float("nan"), "Infinity", "-Infinity", "inf", float("inf"), float("-inf"), "sNaN"],
)
def test_parse_amount_non_finite_rejected(raw):
    with pytest.raises(ValueError):
        parse_amount(raw)


@pytest.mark.parametrize(
    "raw",
    [True, False, [], [25], {}, {"amount": 25}, None, "", "   ", "abc", "25,00", "$25", "25 USD", "0x19", "1" * 33],
)
def test_parse_amount_not_a_decimal_rejected(raw):
    with pytest.raises(ValueError):
        parse_amount(raw)


@pytest.mark.parametrize("raw", [10**40, "1e40", 1e30, Decimal("1E+50")])
def test_parse_amount_beyond_decimal_precision_rejected_as_value_error(raw):
    # A ValueError (not decimal.InvalidOperation) so that pydantic reports 422 instead of crashing with 500.
    with pytest.raises(ValueError, match="too large"):
        parse_amount(raw)


@pytest.mark.parametrize(
    ("amount", "text"),
    [(Decimal("25"), "25.00"), (Decimal("25.5"), "25.50"), (Decimal("0"), "0.00"), (Decimal("0.1"), "0.10"),
     (Decimal("1234567.89"), "1234567.89")],
)
def test_format_amount_any_decimal_gives_two_fraction_digits(amount, text):
    assert format_amount(amount) == text


@pytest.mark.parametrize(("amount", "cents"), [(Decimal("25.00"), 2500), (Decimal("0.01"), 1), (Decimal("0"), 0),
                                                 (Decimal("99999999.99"), 9999999999)])
def test_to_cents_and_from_cents_round_trip_exactly(amount, cents):
    assert to_cents(amount) == cents
    assert from_cents(cents) == amount


def test_from_cents_gives_two_fraction_digits():
    assert format_amount(from_cents(5)) == "0.05"
    assert from_cents(5).as_tuple().exponent == -2


def test_money_field_accepts_number_and_serialises_as_string():
    priced = _Priced.model_validate({"amount": 25})

    assert priced.model_dump(mode="json") == {"amount": "25.00"}


def test_money_field_invalid_amount_is_a_validation_error():
    with pytest.raises(ValidationError) as raised:
        _Priced.model_validate({"amount": "25.001"})

    assert raised.value.errors()[0]["loc"] == ("amount",)


def test_money_field_huge_amount_is_a_validation_error():
    with pytest.raises(ValidationError):
        _Priced.model_validate({"amount": 10**40})
