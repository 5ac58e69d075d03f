"""Lambda TOKEN authorizer handler: raise "Unauthorized" for 401, else allow the whole API.

The policy allows every route of the stage because API Gateway caches it per token; which caller
may do what is decided by the functions from the context (user_id, email, role).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse, APIGatewayAuthorizerTokenEvent)
from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall.config import load_settings
from careforall.observability import logger, metrics, tracer

from careforall.auth import Authenticator, Unauthenticated
from careforall.directory import authenticator_for

from authorizer_service.models import Settings

SETTINGS = load_settings(Settings)


@cache
def token_authorizer() -> Authenticator:
    return authenticator_for(SETTINGS.jwt_secret_id, SETTINGS.token_issuer, SETTINGS.users_table_name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=APIGatewayAuthorizerTokenEvent)
def lambda_handler(event: APIGatewayAuthorizerTokenEvent, context: LambdaContext) -> dict[str, Any]:
    try:
        principal = token_authorizer().authenticate(event.authorization_token)
    except Unauthenticated as reason:
        logger.info("token rejected", extra={"reason": str(reason)})
        metrics.add_metric(name="TokensRejected", unit="Count", value=1)
        raise Exception("Unauthorized") from None  # noqa: TRY002 - the exact message API Gateway maps to 401
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal.user_id, region=arn.region, aws_account_id=arn.aws_account_id,
        api_id=arn.api_id, stage=arn.stage, context=principal.model_dump(mode="json"))
    policy.allow_all_routes()
    return policy.asdict()
