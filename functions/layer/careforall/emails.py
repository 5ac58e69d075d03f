"""Email addresses: RFC 5321 syntax via email-validator, no DNS lookups at request time.

email-validator refuses special-use domains (RFC 6761). We accept `.local`, the domain of the
local stack's documented admin (admin@careforall.local); the library documents this list as
the place to adjust that policy.
"""

from __future__ import annotations

from typing import Annotated

import email_validator
from pydantic import AfterValidator, StringConstraints

email_validator.SPECIAL_USE_DOMAIN_NAMES = [d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d != "local"]


def _valid_email(value: str) -> str:
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"not a valid email address: {error}") from None


Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
                  AfterValidator(_valid_email)]
