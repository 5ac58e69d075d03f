"""The environment each of this package's functions reads, validated once at cold start (careforall.config).

Kept apart from the request and item models so that a function's entry point loads only these.
"""

from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class Settings(BaseSettings):
    users_table_name: str = Field(alias="USERS_TABLE_NAME", min_length=1)
    rate_limits_table_name: str = Field(alias="RATE_LIMITS_TABLE_NAME", min_length=1)
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)
    token_issuer: str = Field(alias="TOKEN_ISSUER", min_length=1)
    token_ttl_seconds: int = Field(alias="TOKEN_TTL_SECONDS", ge=60, le=86400)
