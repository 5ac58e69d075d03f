"""The environment each of this package's functions reads, validated once at cold start (careforall.config).

Kept apart from the request and item models so that a function's entry point loads only these.
"""

from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class Settings(BaseSettings):
    campaigns_table_name: str = Field(alias="CAMPAIGNS_TABLE_NAME", min_length=1)
    totals_table_name: str = Field(alias="TOTALS_TABLE_NAME", min_length=1)
