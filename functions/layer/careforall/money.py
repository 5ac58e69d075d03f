"""Money: a decimal with at most two fraction digits, stored as integer cents.

Input accepts a JSON string or number ("25", 25, 25.5, "25.50"); output is always a string with
two fraction digits. Floats are read through their shortest repr, so 0.1 means 0.10, not
0.1000000000000000055.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")


def parse_amount(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise ValueError("must be a decimal string or number, e.g. \"25.00\"")
    text = str(value).strip() if not isinstance(value, Decimal) else str(value)
    if isinstance(value, str) and (not text or len(text) > 32):
        raise ValueError("must be a decimal string, e.g. \"25.00\"")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError("must be a decimal string or number, e.g. \"25.00\"") from None
    if not amount.is_finite():
        raise ValueError("must be a finite amount")
    if amount.as_tuple().exponent < -2:  # "25.001" and "25.000" alike: the contract allows two digits
        raise ValueError("must have at most two fraction digits")
    try:
        return amount.quantize(CENT)
    except InvalidOperation:  # more digits than the decimal context holds (e.g. 1e40): far beyond any amount
        raise ValueError("is too large") from None


def format_amount(amount: Decimal) -> str:
    return f"{amount.quantize(CENT):.2f}"


def to_cents(amount: Decimal) -> int:
    return int(amount.quantize(CENT) * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(int(cents)) / 100).quantize(CENT)


# A pydantic field type: validates input as above, serialises as "25.00".
Money = Annotated[Decimal, BeforeValidator(parse_amount), PlainSerializer(format_amount, return_type=str)]
