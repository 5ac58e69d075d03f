"""The environment each of this package's functions reads, validated once at cold start (careforall.config).

Kept apart from the request and item models so that a function's entry point loads only these.
"""

from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class Settings(BaseSettings):
    pledges_table_name: str = Field(alias="PLEDGES_TABLE_NAME", min_length=1)
    campaigns_table_name: str = Field(alias="CAMPAIGNS_TABLE_NAME", min_length=1)
    users_table_name: str = Field(alias="USERS_TABLE_NAME", min_length=1)
    rate_limits_table_name: str = Field(alias="RATE_LIMITS_TABLE_NAME", min_length=1)
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)
    token_issuer: str = Field(alias="TOKEN_ISSUER", min_length=1)
    sender_email: str = Field(alias="SENDER_EMAIL", min_length=3)
    web_app_url: str = Field(alias="WEB_APP_URL", min_length=1)


class RelaySettings(BaseSettings):
    payments_queue_url: str = Field(alias="PAYMENTS_QUEUE_URL", min_length=1)
