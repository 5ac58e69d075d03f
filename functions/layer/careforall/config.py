"""Configuration: each function declares a pydantic model of the environment it needs.

It is read once at cold start; a missing or malformed setting fails the init phase loudly instead
of failing the first request that happens to need it.
"""

from __future__ import annotations

import os
from typing import TypeVar

from pydantic import BaseModel, ConfigDict

SettingsT = TypeVar("SettingsT", bound="BaseSettings")


class BaseSettings(BaseModel):
    """Settings read from environment variables; field aliases are the variable names."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def load_settings(model: type[SettingsT], environ: dict[str, str] | None = None) -> SettingsT:
    """Validate the environment against `model`; raises pydantic.ValidationError naming what is missing."""
    return model.model_validate(dict(os.environ if environ is None else environ))
