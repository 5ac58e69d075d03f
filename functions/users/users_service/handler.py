"""Users API handlers: parse, validate, call the logic, shape the response. Nothing else."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.api import create_api, ok, require_caller, serve
from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer
from careforall.secrets import get_secret
from careforall.tokens import TokenService

from careforall.ratelimit import DynamoWindowCounters

from users_service.dal import DynamoUserRepository
from users_service.logic import Session, UsersService
from users_service.models import (LoginRequest, RegisterRequest, RoleUpdateRequest, SeedAdminRequest, Settings,
                                  UserOut)
from users_service.passwords import Argon2PasswordHasher

SETTINGS = load_settings(Settings)
app = create_api()
UserId = Annotated[str, Path(min_length=1, max_length=64)]


@cache
def users_service() -> UsersService:
    tokens = TokenService(get_secret(SETTINGS.jwt_secret_id), SETTINGS.token_issuer, SETTINGS.token_ttl_seconds)
    return UsersService(
        users=DynamoUserRepository(SETTINGS.users_table_name),
        attempts=DynamoWindowCounters(SETTINGS.rate_limits_table_name),
        hasher=Argon2PasswordHasher(),
        tokens=tokens,
    )


def _user(session_or_user) -> dict[str, Any]:
    return UserOut.of(session_or_user).model_dump(mode="json")


@app.post("/auth/register")
def register(body: Annotated[RegisterRequest, Body()]) -> Response[Any]:
    session = users_service().register(body)
    metrics.add_metric(name="UsersRegistered", unit="Count", value=1)
    return ok({"user": _user(session.user), "token": session.token}, status=201)


@app.post("/auth/login")
def login(body: Annotated[LoginRequest, Body()]) -> Response[Any]:
    client_ip = app.current_event.request_context.identity.source_ip or "unknown"
    session: Session = users_service().login(body, client_id=client_ip)
    return ok({"token": session.token, "token_type": "Bearer", "expires_in": session.expires_in,
               "user": _user(session.user)})


@app.get("/users/me")
def get_me() -> Response[Any]:
    caller = require_caller(app)
    return ok(_user(users_service().get(caller.user_id)))


@app.put("/users/<id>/role")
def set_role(id: UserId, body: Annotated[RoleUpdateRequest, Body()]) -> Response[Any]:  # noqa: A002 - route name
    caller = require_caller(app)
    return ok(_user(users_service().set_role(caller, id, body.role)))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def seed_admin_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Operator entry point (never routed from the API): {"email", "password", "name"?} -> the ADMIN user."""
    admin = users_service().seed_admin(SeedAdminRequest.model_validate(event))
    logger.info("admin seeded", extra={"user_id": admin.id})
    return _user(admin)
