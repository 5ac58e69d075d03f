"""Text the platform accepts from people: no control characters that could break a log line,
an email header or a terminal. Names are single-line; prose may keep newlines and tabs."""

from __future__ import annotations

import re

_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_LAYOUT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def single_line(value: str) -> str:
    if _ANY_CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def prose(value: str) -> str:
    if _CONTROL_EXCEPT_LAYOUT.search(value):
        raise ValueError("must not contain control characters")
    return value
