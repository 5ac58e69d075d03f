"""Fixtures of the unit and functional tests.

Functional tests run the real Lambda handlers against in-process moto. The tables and the JWT
secret come from template.yaml through the local stack's model, and each function's environment is
exactly the one the template gives it, so nothing about the infrastructure is repeated here.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import boto3
import pytest
from moto import mock_aws

from careforall_local.stack import LocalStackModel

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = REPO_ROOT / "template.yaml"
EVENTS_DIR = REPO_ROOT / "events"
PARAMETERS = {"Environment": "local"}
# 64 characters, like the secret the template generates.
TEST_SIGNING_KEY = "test-signing-key-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJK"
assert len(TEST_SIGNING_KEY) == 64
# The payment provider's webhook secret (WebhookSigningSecret), 48 characters like the generated one.
TEST_WEBHOOK_SECRET = "test-webhook-secret-0123456789abcdefghijklmnopqr"
assert len(TEST_WEBHOOK_SECRET) == 48
SECRET_VALUES = {"JwtSigningSecret": TEST_SIGNING_KEY, "WebhookSigningSecret": TEST_WEBHOOK_SECRET}
KNOWN_PASSWORD = "known-password-123"  # the password of users written by Stack.seed_user


def fast_password_hasher():
    """Argon2id through the service's own Argon2PasswordHasher, with minimal cost parameters.

    The production profile (RFC 9106 low memory) takes ~0.1 s per hash or check; handler tests use
    this one instead and tests/unit/users/test_passwords.py covers the production profile.
    """
    from argon2 import PasswordHasher

    from users_service.passwords import Argon2PasswordHasher

    return Argon2PasswordHasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def pytest_configure(config):
    # Powertools warns whenever a handler publishes no business metric (a GET, a rejected request);
    # observability.py silences it in Lambda, but pytest resets warning filters for each test.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@functools.cache
def known_password_hash() -> str:
    """One hash per session for users the tests write straight into the table."""
    return fast_password_hasher().hash(KNOWN_PASSWORD)


# ---------------------------------------------------------------------------------------- context
@dataclass
class FakeLambdaContext:
    function_name: str = "careforall-test-function"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:careforall-test-function"
    aws_request_id: str = "6f7b4c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e"
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/careforall-test-function"
    log_stream_name: str = "2025/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


# ---------------------------------------------------------------------------------------- events
def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of a sample event from events/<name>.json."""
    return copy.deepcopy(json.loads((EVENTS_DIR / f"{name}.json").read_text()))


_UNSET = object()


def make_event(
    name: str,
    *,
    body: Any = _UNSET,
    raw_body: str | None | object = _UNSET,
    path: str | None = None,
    path_params: dict[str, str] | None | object = _UNSET,
    query: dict[str, str] | None | object = _UNSET,
    headers: dict[str, str] | None = None,
    caller: dict[str, str] | None | object = _UNSET,
) -> dict[str, Any]:
    """Load a sample event and tweak it the way API Gateway would have built it.

    body: JSON-encoded (unicode kept as is); raw_body: sent verbatim; caller: the authorizer context
    ({user_id, email, role}) or None for an anonymous request.
    """
    event = load_event(name)
    if body is not _UNSET:
        event["body"] = json.dumps(body, ensure_ascii=False)
    if raw_body is not _UNSET:
        event["body"] = raw_body
    if path is not None:
        event["path"] = path
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    if path_params is not _UNSET:
        event["pathParameters"] = path_params
    if query is not _UNSET:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = None if query is None else {k: [v] for k, v in query.items()}
    for header, value in (headers or {}).items():
        event["headers"][header] = value
        event["multiValueHeaders"][header] = [value]
    if caller is not _UNSET:
        if caller is None:
            event["requestContext"].pop("authorizer", None)
            event["headers"].pop("Authorization", None)
            event["multiValueHeaders"].pop("Authorization", None)
        else:
            event["requestContext"]["authorizer"] = {"principalId": caller["user_id"], **caller}
    return event


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]  # lower-cased names
    raw_body: str | None

    @property
    def json(self) -> Any:
        return json.loads(self.raw_body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def problem(self, status: int, problem_type: str | None = None) -> dict[str, Any]:
        """Assert this is an RFC 9457 problem with `status` (and type suffix); returns its body."""
        assert self.status == status, self.raw_body
        assert self.header("Content-Type") == "application/problem+json"
        body = self.json
        assert body["status"] == status
        assert body["type"].startswith("https://careforall.org/problems/")
        if problem_type is not None:
            assert body["type"].endswith("/" + problem_type), body["type"]
        assert isinstance(body["title"], str) and body["title"]
        assert isinstance(body["detail"], str) and body["detail"]
        assert self.header("X-Correlation-Id")
        return body


@pytest.fixture
def api_event():
    """The event factory: api_event("users_register", body=..., caller=..., query=...)."""
    return make_event


def to_result(proxy_result: dict[str, Any]) -> HttpResult:
    headers = {k.lower(): v for k, v in (proxy_result.get("headers") or {}).items()}
    for name, values in (proxy_result.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    return HttpResult(status=proxy_result["statusCode"], headers=headers, raw_body=proxy_result.get("body"))


# ---------------------------------------------------------------------------------------- the stack
@pytest.fixture(scope="session")
def boto_session():
    """One boto3 session for provisioning: a new session would reload every service model (slow)."""
    return boto3.Session(region_name="us-east-1")


@pytest.fixture(scope="session")
def transformed_template():
    """The SAM transform of template.yaml, done once per session (it takes about a second)."""
    return LocalStackModel(TEMPLATE, PARAMETERS, secret_values=SECRET_VALUES).transformed


@dataclass
class Stack:
    """The provisioned moto stack and the imported handler modules."""

    model: LocalStackModel
    environment: dict[str, str]
    users: ModuleType
    campaigns: ModuleType
    authorizer: ModuleType
    context: FakeLambdaContext
    tables: dict[str, str] = field(default_factory=dict)
    known_password: str = KNOWN_PASSWORD
    webhook_secret: str = TEST_WEBHOOK_SECRET  # the value of WebhookSigningSecret

    def tokens(self, **overrides: Any):
        """A TokenService with the stack's JWT secret and issuer (overrides: ttl_seconds, clock)."""
        from careforall.tokens import TokenService

        return TokenService(TEST_SIGNING_KEY, self.environment["TOKEN_ISSUER"], **overrides)

    @functools.cached_property
    def dynamodb(self):
        return boto3.client("dynamodb", region_name="us-east-1")

    @staticmethod
    def event(name: str, **tweaks: Any) -> dict[str, Any]:
        return make_event(name, **tweaks)

    def call(self, module: ModuleType, event: dict[str, Any]) -> HttpResult:
        return to_result(module.lambda_handler(event, self.context))

    def users_api(self, event: dict[str, Any]) -> HttpResult:
        return self.call(self.users, event)

    def campaigns_api(self, event: dict[str, Any]) -> HttpResult:
        return self.call(self.campaigns, event)

    def authorize(self, token_header: str, method_arn: str | None = None) -> dict[str, Any]:
        event = load_event("authorizer_token")
        event["authorizationToken"] = token_header
        if method_arn is not None:
            event["methodArn"] = method_arn
        return self.authorizer.lambda_handler(event, self.context)

    def seed_admin(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.users.seed_admin_handler(event, self.context)

    def seed_user(self, email: str = "donor@example.com", role: str = "DONOR",
                  name: str = "Test User") -> dict[str, str]:
        """Write a user (password KNOWN_PASSWORD) straight into the users table; returns its authorizer context."""
        from careforall.clock import now_iso
        from users_service.dal import DynamoUserRepository
        from users_service.models import UserRecord

        user = UserRecord(id=str(uuid.uuid4()), email=email, name=name, role=role,
                          password_hash=known_password_hash(), created_at=now_iso())
        DynamoUserRepository(self.tables["UsersTable"], client=self.dynamodb).create(user)
        return {"user_id": user.id, "email": user.email, "role": user.role.value}

    def bearer(self, caller: dict[str, str], **issue_overrides: Any) -> str:
        """An Authorization header value signed with the stack's JWT secret."""
        token = self.tokens(**issue_overrides).issue(user_id=caller["user_id"], email=caller["email"],
                                                     role=caller["role"])
        return "Bearer " + token

    def get_item(self, table: str, key: dict[str, str]) -> dict[str, Any] | None:
        from careforall import dynamo

        item = self.dynamodb.get_item(TableName=self.tables[table], Key=dynamo.to_item(key)).get("Item")
        return dynamo.from_item(item)

    def item_count(self, table: str) -> int:
        return self.dynamodb.scan(TableName=self.tables[table], Select="COUNT")["Count"]

    def put_totals(self, campaign_id: str, total_cents: int, pledge_count: int = 1) -> None:
        """Write the read model the way the totals aggregator does."""
        self.dynamodb.put_item(TableName=self.tables["TotalsTable"], Item={
            "campaign_id": {"S": campaign_id}, "total_cents": {"N": str(total_cents)},
            "pledge_count": {"N": str(pledge_count)}})


def _clear_caches(*modules: ModuleType) -> None:
    from aws_lambda_powertools.utilities import parameters

    from careforall import dynamo

    dynamo.client.cache_clear()
    parameters.clear_caches()
    for module in modules:
        for name in ("users_service", "campaigns_service", "token_authorizer", "pledges_service", "authenticator",
                     "publisher", "payments_service", "starter", "projection", "sandbox"):
            cached = getattr(module, name, None)
            if cached is not None and hasattr(cached, "cache_clear"):
                cached.cache_clear()


@pytest.fixture
def stack(monkeypatch, transformed_template, boto_session, lambda_context) -> Iterator[Stack]:
    """A fresh moto account with the template's tables and secret, and the handlers wired to it."""
    with mock_aws():
        model = LocalStackModel(TEMPLATE, PARAMETERS, secret_values=SECRET_VALUES,
                                transformed=transformed_template)
        # moto resets boto3's default session for the duration of the mock; handing it ours spares every
        # boto3.client() in the handlers from reloading the service models (moto restores it on exit).
        boto3.DEFAULT_SESSION = boto_session
        model.provision(boto_session)
        environment: dict[str, str] = {}
        for spec in model.functions().values():
            environment.update(spec.environment)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)

        # Imported only now: the handlers read their settings at import time.
        modules = [importlib.import_module(name) for name in
                   ("users_service.handler", "campaigns_service.handler", "authorizer_service.handler")]
        from careforall.config import load_settings

        for module in modules:  # a module imported by an earlier test holds that test's secret ARN
            monkeypatch.setattr(module, "SETTINGS", load_settings(module.Settings))
        monkeypatch.setattr(modules[0], "Argon2PasswordHasher", fast_password_hasher)
        _clear_caches(*modules)
        try:
            yield Stack(model=model, environment=environment, users=modules[0], campaigns=modules[1],
                        authorizer=modules[2], context=lambda_context, tables=model.table_names())
        finally:
            _clear_caches(*modules)


@pytest.fixture
def function_modules(stack, monkeypatch):
    """Imports a function's module against this test's stack: its SETTINGS re-read from the stack's
    environment and its cached clients cleared (before and after the test)."""
    from careforall.config import load_settings

    loaded: list[ModuleType] = []

    def load(name: str) -> ModuleType:
        module = importlib.import_module(name)
        monkeypatch.setattr(module, "SETTINGS", load_settings(type(module.SETTINGS)))
        _clear_caches(module)
        loaded.append(module)
        return module

    try:
        yield load
    finally:
        _clear_caches(*loaded)


# ---------------------------------------------------------------------------------------- pledges
@dataclass
class PledgesStack:
    """The stack plus the pledges API function and the outbox relay, wired to the same moto account."""

    stack: Stack
    handler: ModuleType
    relay: ModuleType

    @property
    def queue_url(self) -> str:
        return self.stack.environment["PAYMENTS_QUEUE_URL"]

    def api(self, event: dict[str, Any]) -> HttpResult:
        return self.stack.call(self.handler, event)

    def relay_batch(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.relay.lambda_handler(event, self.stack.context)

    def put_campaign(self, status: str = "ACTIVE", currency: str = "USD", campaign_id: str | None = None,
                     owner_id: str = "5f0c2a4e-3b1d-4c8e-9a7f-1d2e3f4a5b6c") -> str:
        """Write a campaign through campaigns_service's own repository (its item shape: entity, created_sort)."""
        from careforall.clock import now_iso
        from campaigns_service.dal import DynamoCampaignRepository
        from campaigns_service.models import CampaignRecord

        now = now_iso()
        record = CampaignRecord(id=campaign_id or str(uuid.uuid4()), title="Clean water for Riverside",
                                description="Wells and filters for 40 families.", goal_cents=2_500_000,
                                currency=currency, status=status, owner_id=owner_id, created_at=now, updated_at=now)
        DynamoCampaignRepository(self.stack.tables["CampaignsTable"], client=self.stack.dynamodb).create(record)
        return record.id

    def set_campaign_status(self, campaign_id: str, status: str) -> None:
        self.stack.dynamodb.update_item(
            TableName=self.stack.tables["CampaignsTable"], Key={"id": {"S": campaign_id}},
            UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": status}})

    def pledge_items(self) -> list[dict[str, Any]]:
        from careforall import dynamo

        items = self.stack.dynamodb.scan(TableName=self.stack.tables["PledgesTable"], ConsistentRead=True)["Items"]
        return [dynamo.from_item(item) for item in items]

    def sent_mail(self) -> list[Any]:
        """Messages moto's SES accepted (SES v2 sends through the same backend): .destinations, .subject, .body."""
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)

    def queued_messages(self) -> list[dict[str, Any]]:
        """Drain the payments FIFO queue: every message, with its system attributes."""
        sqs = boto3.client("sqs", region_name="us-east-1")
        messages: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                        MessageSystemAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)


@pytest.fixture
def pledges_stack(stack, monkeypatch) -> Iterator[PledgesStack]:
    """`stack` plus the pledges handler and relay, their settings read from this test's environment."""
    from careforall.config import load_settings

    handler = importlib.import_module("pledges_service.handler")
    relay = importlib.import_module("pledges_service.relay")
    monkeypatch.setattr(handler, "SETTINGS", load_settings(handler.Settings))
    monkeypatch.setattr(relay, "SETTINGS", load_settings(relay.RelaySettings))
    _clear_caches(handler, relay)
    try:
        yield PledgesStack(stack=stack, handler=handler, relay=relay)
    finally:
        _clear_caches(handler, relay)
