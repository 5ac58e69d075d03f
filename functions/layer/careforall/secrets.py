"""Reads secrets from AWS Secrets Manager (cached per container). The layer's only AWS access."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

SECRET_CACHE_SECONDS = 300


def get_secret(secret_id: str) -> str:
    value = parameters.get_secret(secret_id, max_age=SECRET_CACHE_SECONDS)
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"secret {secret_id} is empty or not a string")
    return value
