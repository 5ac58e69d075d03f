"""The environment each of this package's functions reads, validated once at cold start (careforall.config).

Kept apart from the request and item models so that a function's entry point loads only these.
"""

from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class AggregatorSettings(BaseSettings):
    totals_table_name: str = Field(alias="TOTALS_TABLE_NAME", min_length=1)
    ledger_table_name: str = Field(alias="TOTALS_LEDGER_TABLE_NAME", min_length=1)


class ApiSettings(BaseSettings):
    totals_table_name: str = Field(alias="TOTALS_TABLE_NAME", min_length=1)


class RealtimeSettings(BaseSettings):
    connections_table_name: str = Field(alias="CONNECTIONS_TABLE_NAME", min_length=1)
    pledges_table_name: str = Field(alias="PLEDGES_TABLE_NAME", min_length=1)
    totals_table_name: str = Field(alias="TOTALS_TABLE_NAME", min_length=1)
    campaigns_table_name: str = Field(alias="CAMPAIGNS_TABLE_NAME", min_length=1)
    users_table_name: str = Field(alias="USERS_TABLE_NAME", min_length=1)
    websocket_endpoint: str = Field(alias="WEBSOCKET_ENDPOINT", min_length=1)
    sender_email: str = Field(alias="SENDER_EMAIL", min_length=3)


class SocketsSettings(BaseSettings):
    connections_table_name: str = Field(alias="CONNECTIONS_TABLE_NAME", min_length=1)
    pledges_table_name: str = Field(alias="PLEDGES_TABLE_NAME", min_length=1)
    users_table_name: str = Field(alias="USERS_TABLE_NAME", min_length=1)
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)
    token_issuer: str = Field(alias="TOKEN_ISSUER", min_length=1)
