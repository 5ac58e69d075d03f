"""The WebSocket API's routes: $connect subscribes to a campaign (and, with a token, to the
donor's own pledges), $disconnect forgets the connection, $default answers pings."""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall import dynamo
from careforall.auth import Authenticator, Unauthenticated
from careforall.config import load_settings
from careforall.directory import authenticator_for
from careforall.observability import logger, tracer
from totals_service.settings import SocketsSettings as Settings

CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes a WebSocket after 2 hours anyway


SETTINGS = load_settings(Settings)


@cache
def authenticator() -> Authenticator:
    return authenticator_for(SETTINGS.jwt_secret_id, SETTINGS.token_issuer, SETTINGS.users_table_name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event["requestContext"]
    route, connection_id = request["routeKey"], request["connectionId"]
    if route == "$connect":
        query = event.get("queryStringParameters") or {}
        campaign_id = (query.get("campaign_id") or "")[:64]
        item: dict[str, Any] = {"connection_id": connection_id, "expires_at": int(time.time()) + CONNECTION_TTL_SECONDS}
        if campaign_id:
            item["campaign_id"] = campaign_id
        if query.get("token"):
            try:
                item["user_id"] = authenticator().authenticate(f"Bearer {query['token']}").user_id
            except Unauthenticated:
                return {"statusCode": 401, "body": "invalid token"}
        if "campaign_id" not in item and "user_id" not in item:
            return {"statusCode": 400, "body": "subscribe with ?campaign_id= and/or &token="}
        dynamo.client().put_item(TableName=SETTINGS.connections_table_name, Item=dynamo.to_item(item))
        return {"statusCode": 200}
    if route == "$disconnect":
        dynamo.client().delete_item(TableName=SETTINGS.connections_table_name,
                                    Key=dynamo.to_item({"connection_id": connection_id}))
        return {"statusCode": 200}
    return {"statusCode": 200, "body": "pong"}
