"""The environment each of this package's functions reads, validated once at cold start (careforall.config).

Kept apart from the request and item models so that a function's entry point loads only these.
"""

from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class ApiSettings(BaseSettings):
    payments_table_name: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=1)
    webhook_secret_id: str = Field(alias="WEBHOOK_SECRET_ID", min_length=1)
    webhook_tolerance_seconds: int = Field(alias="WEBHOOK_TOLERANCE_SECONDS", default=300, ge=1)


class TaskSettings(BaseSettings):
    payments_table_name: str = Field(alias="PAYMENTS_TABLE_NAME", min_length=1)
    provider_function_name: str = Field(alias="PROVIDER_FUNCTION_NAME", min_length=1)


class StarterSettings(BaseSettings):
    state_machine_arn: str = Field(alias="PAYMENT_STATE_MACHINE_ARN", min_length=1)


class ProjectorSettings(BaseSettings):
    pledges_table_name: str = Field(alias="PLEDGES_TABLE_NAME", min_length=1)
