"""Assertions and builders shared by the integration tests. HTTP only: nothing here imports function code."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta

import requests
from jose import jwt

PROBLEM_JSON = "application/problem+json"
MONEY = re.compile(r"^-?\d+\.\d{2}$")

# The documented local stack's token settings (README / settings.py): not secrets, local only.
LOCAL_JWT_KEY = "careforall-local-jwt-signing-key-not-for-production-000000"
TOKEN_ISSUER = "https://auth.careforall.org"
TOKEN_AUDIENCE = "careforall-api"


def media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def assert_correlated(response: requests.Response) -> None:
    assert response.headers.get("X-Correlation-Id"), f"no X-Correlation-Id on {response.status_code} {response.url}"


def assert_json(response: requests.Response, status: int):
    """The response has `status`, a JSON body and an X-Correlation-Id; returns the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert media_type(response) == "application/json", response.headers.get("Content-Type")
    assert_correlated(response)
    return response.json()


def assert_problem(response: requests.Response, status: int) -> dict:
    """The response is an RFC 9457 problem with `status` and an X-Correlation-Id; returns the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert media_type(response) == PROBLEM_JSON, response.headers.get("Content-Type")
    assert_correlated(response)
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    return body


def assert_utc_timestamp(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), f"{value} is not UTC"
    return moment


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def forge_token(key: str = LOCAL_JWT_KEY, *, sub: str | None = None, email: str = "forged@example.com",
                role: str = "DONOR", issued_at: int | None = None, lifetime: int = 3600,
                issuer: str = TOKEN_ISSUER, audience: str = TOKEN_AUDIENCE) -> str:
    """An HS256 token shaped exactly like the ones the stack issues, signed with `key`."""
    now = int(time.time()) if issued_at is None else issued_at
    claims = {"sub": sub or str(uuid.uuid4()), "email": email, "role": role, "iss": issuer, "aud": audience,
              "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="HS256")


# ---------------------------------------------------------------- pledges, mail and the AWS endpoint

LOOKUP_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9._~-]+)")


def new_idempotency_key() -> str:
    return f"key-{uuid.uuid4()}"


def poll(probe, *, timeout: float, interval: float = 0.1, what: str = "the condition"):
    """Calls `probe` until it returns something truthy and returns that; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last result: {result!r})")
        time.sleep(interval)


def mail_to(base_url: str, email: str) -> list[dict]:
    """Every mail the local stack sent to `email` (case-insensitively), oldest first."""
    response = requests.get(f"{base_url}/_local/mail", timeout=10)
    assert response.status_code == 200, response.text
    return [m for m in response.json()["messages"] if email.lower() in (to.lower() for to in m.get("to") or [])]


def aws_client(endpoint: str, service: str):
    """A boto3 client for the local stack's AWS endpoint (local dummy credentials), to inspect its state."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")
