"""The API's OpenAPI document, assembled from the template's routes and each function's own resolver.

Each API function builds its Powertools resolver with pydantic models; its schema is read in a
subprocess with that function's environment (handlers validate settings at import). Only the
paths and methods the template routes to that function are kept, and routes behind the
authorizer are marked with the bearer scheme.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from careforall_local.runtime import DEFAULT_XRAY_DAEMON_ADDRESS, lambda_environment
from careforall_local.stack import FunctionSpec, RestApiSpec

_DUMP = ("import importlib, sys; module = importlib.import_module(sys.argv[1]); "
         "print(module.app.get_openapi_json_schema(title='x', version='0'))")


async def _function_schema(spec: FunctionSpec, aws_endpoint: str, xray_daemon_address: str) -> dict[str, Any]:
    module = spec.handler.rsplit(".", 1)[0]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _DUMP, module, env=lambda_environment(spec, aws_endpoint, xray_daemon_address),
        cwd=str(spec.code_dir),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{spec.logical_id}: could not read its OpenAPI schema: {err.decode()[-500:]}")
    return json.loads(out)


async def build_openapi(api: RestApiSpec, specs: dict[str, FunctionSpec], aws_endpoint: str,
                        server_url: str, xray_daemon_address: str = DEFAULT_XRAY_DAEMON_ADDRESS) -> dict[str, Any]:
    names = sorted({route.function_name for route in api.routes})
    schemas = dict(zip(names, await asyncio.gather(*(_function_schema(specs[n], aws_endpoint, xray_daemon_address)
                                                     for n in names))))
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "CareForAll API", "version": "1.0.0",
                 "description": "Donations, campaigns and live totals. Errors are RFC 9457 problem details."},
        "servers": [{"url": server_url}],
        "paths": {},
        "components": {"schemas": {}, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
    for route in sorted(api.routes, key=lambda r: (r.resource, r.method)):
        source = schemas[route.function_name]
        operation = (source.get("paths", {}).get(route.resource) or {}).get(route.method.lower())
        if operation is None:  # routed by the template but not handled by the function: say so plainly
            operation = {"summary": f"{route.method} {route.resource}", "responses": {}}
        operation = dict(operation)
        if route.authorizer:
            operation["security"] = [{"bearer": []}]
        document["paths"].setdefault(route.resource, {})[route.method.lower()] = operation
        document["components"]["schemas"].update(source.get("components", {}).get("schemas", {}))
    return document
