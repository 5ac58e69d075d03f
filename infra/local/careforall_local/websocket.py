"""The local API Gateway WebSocket API, served at /ws, and its @connections management API.

- $connect runs before the upgrade: a non-2xx answer (or an error) refuses the connection.
- Each text frame is routed by the API's RouteSelectionExpression ($request.body.action), falling
  back to $default; $disconnect runs when the socket closes.
- Functions reach sockets with the apigatewaymanagementapi client (PostToConnection,
  GetConnection, DeleteConnection) at the endpoint the template gives them, which the local
  stack rewrites to /_local/ws-management/<api id>. A gone connection answers 410 GoneException.
- Tracing: $connect joins the trace of the upgrade request's X-Amzn-Trace-Id, if it names one;
  every message and $disconnect starts a new trace.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import WSMsgType, web

from careforall_local.runtime import FunctionRuntime
from careforall_local.stack import ACCOUNT_ID, WebSocketApiSpec

log = logging.getLogger("careforall.websocket")


@dataclass
class Connection:
    connection_id: str
    socket: web.WebSocketResponse
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)


def _new_connection_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(12)).decode()


class WebSocketGateway:
    def __init__(self, api: WebSocketApiSpec, runtime: FunctionRuntime) -> None:
        self.api = api
        self.runtime = runtime
        self.connections: dict[str, Connection] = {}

    # ------------------------------------------------------------------ client side
    async def handle(self, request: web.Request) -> web.StreamResponse:
        connection_id = _new_connection_id()
        connect_route = self.api.routes.get("$connect")
        if connect_route:
            event = self._event(request, connection_id, "$connect", "CONNECT")
            event.update(self._http_parts(request))
            result = await self.runtime.invoke(connect_route, event, source="websocket", detail="$connect",
                                               trace_header=request.headers.get("X-Amzn-Trace-Id"))
            status = (result.payload or {}).get("statusCode", 200) if result.ok and isinstance(result.payload, dict) \
                else (200 if result.ok else 500)
            if not result.ok or not 200 <= int(status) < 300:
                return web.json_response({"message": "Forbidden" if result.ok else "Internal server error"},
                                         status=int(status) if result.ok else 500)
        socket = web.WebSocketResponse(heartbeat=30)
        await socket.prepare(request)
        connection = Connection(connection_id, socket, request.remote or "127.0.0.1",
                                request.headers.get("User-Agent", ""))
        self.connections[connection_id] = connection
        close_code = 1000
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    connection.last_active_at = time.time()
                    await self._route_message(request, connection, message.data)
                elif message.type == WSMsgType.ERROR:
                    close_code = 1006
        finally:
            self.connections.pop(connection_id, None)
            disconnect_route = self.api.routes.get("$disconnect")
            if disconnect_route:
                event = self._event(request, connection_id, "$disconnect", "DISCONNECT")
                event["requestContext"].update(disconnectStatusCode=socket.close_code or close_code,
                                               disconnectReason="")
                await self.runtime.invoke(disconnect_route, event, source="websocket", detail="$disconnect")
        return socket

    async def _route_message(self, request: web.Request, connection: Connection, data: str) -> None:
        route_key = "$default"
        selector = self.api.route_selection_expression
        if selector.startswith("$request.body."):
            try:
                body = json.loads(data)
                value = body
                for part in selector.removeprefix("$request.body.").split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if isinstance(value, str) and value in self.api.routes:
                    route_key = value
            except ValueError:
                pass
        function = self.api.routes.get(route_key)
        if function is None:
            await connection.socket.send_json({"message": "Forbidden", "connectionId": connection.connection_id,
                                               "requestId": str(uuid.uuid4())})
            return
        event = self._event(request, connection.connection_id, route_key, "MESSAGE")
        event["body"] = data
        event["isBase64Encoded"] = False
        result = await self.runtime.invoke(function, event, source="websocket", detail=route_key)
        if not result.ok:
            await connection.socket.send_json({"message": "Internal server error",
                                               "connectionId": connection.connection_id,
                                               "requestId": result.request_id})

    def _event(self, request: web.Request, connection_id: str, route_key: str, event_type: str) -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        request_id = str(uuid.uuid4())
        connection = self.connections.get(connection_id)
        return {"requestContext": {
            "routeKey": route_key, "eventType": event_type, "messageDirection": "IN",
            "messageId": request_id if event_type == "MESSAGE" else None,
            "extendedRequestId": request_id, "requestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "requestTimeEpoch": int(now.timestamp() * 1000),
            "connectedAt": int((connection.connected_at if connection else time.time()) * 1000),
            "stage": self.api.stage, "apiId": self.api.api_id, "domainName": request.host,
            "connectionId": connection_id, "accountId": ACCOUNT_ID,
            "identity": {"sourceIp": request.remote or "127.0.0.1", "userAgent": request.headers.get("User-Agent")},
        }}

    @staticmethod
    def _http_parts(request: web.Request) -> dict[str, Any]:
        query, multi_query = {}, {}
        for name, value in request.query.items():
            query[name] = value
            multi_query.setdefault(name, []).append(value)
        headers, multi_headers = {}, {}
        for name, value in request.headers.items():
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        return {"headers": headers, "multiValueHeaders": multi_headers, "queryStringParameters": query or None,
                "multiValueQueryStringParameters": multi_query or None, "isBase64Encoded": False}

    # ------------------------------------------------------------------ management API (@connections)
    def management_routes(self, app: web.Application) -> None:
        base = f"/_local/ws-management/{self.api.api_id}/@connections/{{connection_id}}"
        app.router.add_post(base, self._post_to_connection)
        app.router.add_get(base, self._get_connection)
        app.router.add_delete(base, self._delete_connection)

    @staticmethod
    def _gone(connection_id: str) -> web.Response:
        return web.json_response({"message": f"Connection {connection_id} is gone"}, status=410,
                                 headers={"x-amzn-ErrorType": "GoneException"})

    async def _post_to_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        connection = self.connections.get(connection_id)
        if connection is None or connection.socket.closed:
            return self._gone(connection_id)
        data = await request.read()
        try:
            await connection.socket.send_str(data.decode("utf-8"))
        except UnicodeDecodeError:
            await connection.socket.send_bytes(data)
        except ConnectionError:
            return self._gone(connection_id)
        return web.Response(status=200)

    async def _get_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        connection = self.connections.get(connection_id)
        if connection is None:
            return self._gone(connection_id)
        return web.json_response({  # the service's wire names (boto3 maps them to ConnectedAt, Identity, ...)
            "connectedAt": datetime.fromtimestamp(connection.connected_at, timezone.utc).isoformat(),
            "lastActiveAt": datetime.fromtimestamp(connection.last_active_at, timezone.utc).isoformat(),
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent}})

    async def _delete_connection(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        connection = self.connections.get(connection_id)
        if connection is None:
            return self._gone(connection_id)
        await connection.socket.close()
        return web.Response(status=204)

    async def close_all(self) -> None:
        for connection in list(self.connections.values()):
            await connection.socket.close(code=1001, message=b"server shutdown")
