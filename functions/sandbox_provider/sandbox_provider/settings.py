"""The environment each of this package's functions reads, validated once at cold start (careforall.config).

Kept apart from the request and item models so that a function's entry point loads only these.
"""

from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class Settings(BaseSettings):
    table_name: str = Field(alias="SANDBOX_TABLE_NAME", min_length=1)
    webhook_queue_url: str = Field(alias="WEBHOOK_QUEUE_URL", min_length=1)
    webhook_url: str = Field(alias="WEBHOOK_URL", min_length=1)
    webhook_secret_id: str = Field(alias="WEBHOOK_SECRET_ID", min_length=1)
    autopilot: bool = Field(alias="PROVIDER_AUTOPILOT", default=True)
    drop_rate: float = Field(alias="WEBHOOK_DROP_RATE", default=0.0, ge=0, le=1)
    duplicate_rate: float = Field(alias="WEBHOOK_DUPLICATE_RATE", default=0.0, ge=0, le=1)
    max_delay_seconds: int = Field(alias="WEBHOOK_MAX_DELAY_SECONDS", default=2, ge=0, le=900)
