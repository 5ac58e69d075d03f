"""The WebSocket API's routes: $connect subscribes to a campaign (and, with a token, to the
donor's own pledges; with a pledge id and its receipt token, to that one pledge), $disconnect
forgets the connection, $default answers pings.

A refused handshake is 401 for a credential that does not check out (a bad JWT, a receipt token
that is not the pledge's, or a pledge that does not exist: the two are not told apart, so the
socket is no oracle of pledge ids), 400 for a query that subscribes to nothing.
"""

from __future__ import annotations

import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from careforall import dynamo, receipts
from careforall.auth import Authenticator, Unauthenticated
from careforall.config import load_settings
from careforall.directory import authenticator_for
from careforall.observability import logger, tracer
from totals_service.settings import SocketsSettings as Settings

CONNECTION_TTL_SECONDS = 2 * 3600  # API Gateway closes a WebSocket after 2 hours anyway


SETTINGS = load_settings(Settings)
MAX_ID_LENGTH = 64


@cache
def authenticator() -> Authenticator:
    return authenticator_for(SETTINGS.jwt_secret_id, SETTINGS.token_issuer, SETTINGS.users_table_name)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event["requestContext"]
    route, connection_id = request["routeKey"], request["connectionId"]
    if route == "$connect":
        return connect(connection_id, event.get("queryStringParameters") or {})
    if route == "$disconnect":
        dynamo.client().delete_item(TableName=SETTINGS.connections_table_name,
                                    Key=dynamo.to_item({"connection_id": connection_id}))
        return {"statusCode": 200}
    return {"statusCode": 200, "body": "pong"}


def connect(connection_id: str, query: dict[str, str]) -> dict[str, Any]:
    now = int(time.time())
    campaign_id = (query.get("campaign_id") or "")[:MAX_ID_LENGTH]
    item: dict[str, Any] = {"connection_id": connection_id, "connected_at": now,
                            "expires_at": now + CONNECTION_TTL_SECONDS}
    if campaign_id:
        item["campaign_id"] = campaign_id
    if query.get("token"):
        try:
            item["user_id"] = authenticator().authenticate(f"Bearer {query['token']}").user_id
        except Unauthenticated:
            return {"statusCode": 401, "body": "invalid token"}
    pledge_id, receipt_token = query.get("pledge_id") or "", query.get("receipt_token") or ""
    if pledge_id or receipt_token:
        if not (pledge_id and receipt_token):
            return {"statusCode": 400, "body": "follow a pledge with ?pledge_id=<id>&receipt_token=<token>"}
        if not receipt_matches(pledge_id, receipt_token):
            return {"statusCode": 401, "body": "invalid receipt token"}
        item["pledge_id"] = pledge_id
    if not {"campaign_id", "user_id", "pledge_id"} & item.keys():
        return {"statusCode": 400, "body": "subscribe with ?campaign_id=, &token= and/or &pledge_id=&receipt_token="}
    dynamo.client().put_item(TableName=SETTINGS.connections_table_name, Item=dynamo.to_item(item))
    return {"statusCode": 200}


def receipt_matches(pledge_id: str, receipt_token: str) -> bool:
    """The check of GET /pledges/{id}?receipt_token= (careforall.receipts): False for an unknown pledge too."""
    if len(pledge_id) > MAX_ID_LENGTH:
        return False
    pledge = dynamo.from_item(dynamo.client().get_item(
        TableName=SETTINGS.pledges_table_name, Key=dynamo.to_item({"pk": f"PLEDGE#{pledge_id}"}),
        ProjectionExpression="receipt_token_hash", ConsistentRead=True).get("Item"))
    return bool(pledge) and receipts.matches(receipt_token, pledge.get("receipt_token_hash"))
