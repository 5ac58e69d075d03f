"""`make run`: the whole CareForAll stack on this machine, built from template.yaml, no Docker.

Processes: this one (API gateway, function runtime, X-Ray daemon on UDP, ops page) and its children: the AWS emulator
(moto behind 127.0.0.1:4566) and one worker process per warm Lambda execution environment.
Ctrl-C or SIGTERM stops them all; children also die with this process (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import time
import urllib.request
import uuid

from aiohttp import web

from careforall_local.settings import LocalSettings
from careforall_local.stack import REGION, LocalStackModel
from careforall_local.runtime import FunctionRuntime, _die_with_parent
from careforall_local.gateway import LambdaInvokeApi, RestGateway, stamp_correlation_id
from careforall_local.openapi import build_openapi
from careforall_local.chaos import Chaos
from careforall_local.emulator import MAIL_PATH
from careforall_local.ops import PLEDGES_TABLE_LOGICAL_ID, OpsService
from careforall_local.pollers import EventSourcePollers
from careforall_local.telemetry import Telemetry
from careforall_local.tracing import start_xray_daemon
from careforall_local.webapp import WebApp
from careforall_local.websocket import WebSocketGateway

log = logging.getLogger("careforall.stack")


class LocalStack:
    def __init__(self, settings: LocalSettings) -> None:
        self.settings = settings
        self.ready = False
        self.emulator: asyncio.subprocess.Process | None = None
        self.runtime: FunctionRuntime | None = None
        self.gateway: RestGateway | None = None
        self.websocket: WebSocketGateway | None = None
        self.pollers: EventSourcePollers | None = None
        self.telemetry = Telemetry()
        self.ops: OpsService | None = None
        self._xray: asyncio.DatagramTransport | None = None
        self._runners: list[web.AppRunner] = []
        self._openapi: asyncio.Task | None = None
        self._proxy_session = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        s = self.settings
        started = time.perf_counter()
        if not s.external_emulator:
            self.emulator = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "careforall_local.emulator", "--port", str(s.aws_port),
                "--invoke-url", f"http://127.0.0.1:{s.internal_port}", "--ignore-sigint",
                "--workflow-endpoint-port", str(s.internal_port),
                preexec_fn=_die_with_parent)
        model = await asyncio.to_thread(
            LocalStackModel, s.template, s.parameter_overrides(), s.stack_name,
            {"JwtSigningSecret": s.jwt_secret, "WebhookSigningSecret": s.webhook_secret})
        await self._wait_for_emulator(deadline=time.monotonic() + 60)
        await asyncio.to_thread(self._configure_emulator)

        import boto3

        session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
        await asyncio.to_thread(model.provision, session, s.aws_endpoint)
        log.info("provisioned %s", ", ".join(f"{k}={v}" for k, v in model.table_names().items()))

        gateway_url = f"http://127.0.0.1:{s.port}"
        chaos = Chaos.from_env()
        if chaos.active:
            log.warning("chaos switches on: %s", chaos)
        self._xray = await start_xray_daemon(self.telemetry.traces, s.xray_port)
        rest_apis, websocket_apis = model.rest_apis(), model.websocket_apis()
        request_path = frozenset(
            [route.function_name for api in rest_apis for route in api.routes]
            + [authorizer.function_name for api in rest_apis for authorizer in api.authorizers.values()]
            + [name for api in websocket_apis for name in api.routes.values()])
        self.runtime = FunctionRuntime(model.functions(model.execute_api_rewrites(gateway_url)), s.aws_endpoint,
                                       s.max_concurrency, chaos, self.telemetry, s.xray_daemon_address,
                                       request_path=request_path if s.request_path_first else None)
        self.ops = OpsService(self.runtime, self.telemetry, model.queues(),
                              model.table_names().get(PLEDGES_TABLE_LOGICAL_ID), s.aws_endpoint)
        self.ops.ready = lambda: self.ready
        if len(rest_apis) > 1 or len(websocket_apis) > 1:
            raise RuntimeError("the local gateway serves at most one REST API and one WebSocket API")
        self.gateway = RestGateway(rest_apis[0], self.runtime) if rest_apis else None
        self.websocket = WebSocketGateway(websocket_apis[0], self.runtime) if websocket_apis else None
        self.ops.websocket = self.websocket
        await self._serve(self._internal_app(), s.internal_port)
        await self._serve(self._public_app(), s.port)
        await self.runtime.prewarm()
        self.pollers = EventSourcePollers(model.event_source_mappings(), self.runtime, s.aws_endpoint,
                                          s.state_dir, chaos)
        self.ops.pollers = self.pollers
        await self.pollers.start()
        if "SeedAdminFunction" in model.resources:
            await self._seed_admin(model)
        self.ready = True
        log.info("ready in %.1f s", time.perf_counter() - started)
        print(self._banner(), flush=True)

    async def stop(self) -> None:
        self.ready = False
        if self.pollers:
            await self.pollers.stop()
        if self.websocket:
            await self.websocket.close_all()
        for runner in self._runners:
            await runner.cleanup()
        if self._proxy_session is not None:
            await self._proxy_session.close()
        if self.runtime:
            await self.runtime.shutdown()
        if self._xray is not None:
            self._xray.close()
        if self.emulator and self.emulator.returncode is None:
            self.emulator.terminate()
            try:
                await asyncio.wait_for(self.emulator.wait(), 10)
            except asyncio.TimeoutError:
                self.emulator.kill()
                await self.emulator.wait()

    async def _wait_for_emulator(self, deadline: float) -> None:
        url = f"{self.settings.aws_endpoint}{MAIL_PATH}"
        while True:
            if self.emulator is not None and self.emulator.returncode is not None:
                raise RuntimeError(f"the AWS emulator exited with code {self.emulator.returncode}")
            try:
                await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=2).read())
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the AWS emulator did not answer on {url}") from None
                await asyncio.sleep(0.1)

    def _configure_emulator(self) -> None:
        # moto executes state machines only when asked to (LOCAL-STACK-NOTES.md).
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
        request = urllib.request.Request(f"{self.settings.aws_endpoint}/moto-api/config", data=body,
                                         method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=5).read()

    async def _seed_admin(self, model: LocalStackModel) -> None:
        seed = model.function_by_logical_id("SeedAdminFunction")
        result = await self.runtime.invoke(seed.name, {
            "email": self.settings.admin_email, "password": self.settings.admin_password, "name": "Local Admin"},
            source="seed")
        if not result.ok:
            raise RuntimeError(f"seeding the admin failed: {result.payload}")
        log.info("admin account %s ready", self.settings.admin_email)

    async def _serve(self, app: web.Application, port: int) -> None:
        # Request lines and headers up to 16 KiB reach the gateway (aiohttp's 8 KiB default would answer a long
        # query itself, in plain text); API Gateway's own URL limit is 10 KiB.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, max_line_size=16384, max_field_size=16384)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, backlog=2048, reuse_address=True)
        await site.start()
        self._runners.append(runner)

    # ------------------------------------------------------------------ HTTP apps
    def _internal_app(self) -> web.Application:
        app = web.Application(client_max_size=7 * 1024 * 1024)
        app.router.add_post("/2015-03-31/functions/{name}/invocations", LambdaInvokeApi(self.runtime).invoke)
        app.router.add_route("*", "/{tail:.*}", self._proxy_to_emulator)  # workflow tasks other than Lambda
        return app

    async def _proxy_to_emulator(self, request: web.Request) -> web.Response:
        import aiohttp

        if self._proxy_session is None:
            self._proxy_session = aiohttp.ClientSession(auto_decompress=False)
        async with self._proxy_session.request(
                request.method, f"{self.settings.aws_endpoint}{request.path_qs}", data=await request.read(),
                headers={k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")},
        ) as upstream:
            body = await upstream.read()
            headers = {k: v for k, v in upstream.headers.items()
                       if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")}
            return web.Response(status=upstream.status, body=body, headers=headers)

    def _public_app(self) -> web.Application:
        app = web.Application(client_max_size=11 * 1024 * 1024, middlewares=[_correlation_middleware])
        app.router.add_get("/health", self._health)
        app.router.add_get("/_local/ops", self._ops_page)
        app.router.add_get("/_local/ops/data", self._ops_data)
        app.router.add_get("/_local/ops/donations/{key}", self._ops_donation)
        app.router.add_get("/openapi.json", self._openapi_json)
        app.router.add_get("/_local/mail", self._mail)
        WebApp(self.settings.web_root).routes(app)  # the web app at `/` and `/app/...`, before the API's catch-all
        if self.websocket:
            app.router.add_get("/ws", self._websocket)
            self.websocket.management_routes(app)
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._api)  # [\s\S]: a decoded %0A is a path too
        return app

    async def _health(self, _: web.Request) -> web.Response:
        emulator_up = self.settings.external_emulator or (self.emulator is not None and self.emulator.returncode is None)
        if self.ready and emulator_up:
            return web.json_response({"status": "ok"})
        return web.json_response({"status": "starting" if emulator_up else "degraded"}, status=503)

    async def _ops_page(self, request: web.Request) -> web.Response:
        from careforall_local.ops_page import OPS_PAGE

        if self.ops is None:
            return web.Response(text=OPS_PAGE, content_type="text/html", charset="utf-8")
        return await self.ops.page(request)

    async def _ops_data(self, request: web.Request) -> web.Response:
        if self.ops is None:  # still starting: the same keys, nothing in them yet
            return web.json_response({"ready": False, "healthy": False, "problems": ["the local stack is starting"],
                                      "functions": {}, "event_sources": {}, "streams": [], "queues": [],
                                      "metrics": [], "recent_donations": [], "websocket_connections": 0})
        return await self.ops.data_json(request)

    async def _ops_donation(self, request: web.Request) -> web.Response:
        if self.ops is None:
            return web.json_response({"status": "starting"}, status=503)
        return await self.ops.donation_json(request)

    async def _mail(self, _: web.Request) -> web.Response:
        """Local only: what the functions sent through (emulated) SES, oldest first."""
        url = f"{self.settings.aws_endpoint}{MAIL_PATH}"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
        return web.json_response(json.loads(body))

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.ready:
            return web.json_response({"status": "starting"}, status=503)
        return await self.websocket.handle(request)

    async def _openapi_json(self, _: web.Request) -> web.Response:
        if not self.ready:
            return web.json_response({"status": "starting"}, status=503)
        if self._openapi is None or (self._openapi.done() and self._openapi.exception()):
            self._openapi = asyncio.create_task(build_openapi(
                self.gateway.api, self.runtime.specs, self.settings.aws_endpoint,
                f"http://127.0.0.1:{self.settings.port}", self.settings.xray_daemon_address))
        return web.json_response(await asyncio.shield(self._openapi))

    async def _api(self, request: web.Request) -> web.StreamResponse:
        if self.gateway is None:
            raise web.HTTPNotFound()
        if not self.ready:
            return web.json_response({"type": "https://careforall.org/problems/unavailable", "title": "Starting",
                                      "status": 503, "detail": "The local stack is still starting."},
                                     status=503, content_type="application/problem+json")
        return await self.gateway.handle(request)

    def _banner(self) -> str:
        s = self.settings
        return "\n".join([
            "CareForAll local stack is up:",
            f"  web app       http://127.0.0.1:{s.port}/  (donors and admins; files from web/)",
            f"  REST API      http://127.0.0.1:{s.port}/...  (e.g. GET http://127.0.0.1:{s.port}/campaigns)",
            f"  health        http://127.0.0.1:{s.port}/health",
            f"  ops           http://127.0.0.1:{s.port}/_local/ops  (JSON: /_local/ops/data)",
            f"  X-Ray daemon  udp://{s.xray_daemon_address}  (segments kept in memory, timelines on the ops page)",
            f"  mail          http://127.0.0.1:{s.port}/_local/mail",
            f"  WebSocket     ws://127.0.0.1:{s.port}/ws",
            f"  AWS endpoint  {s.aws_endpoint}  (AWS_ENDPOINT_URL; awslocal works)",
            f"  admin         {s.admin_email}",
            "Ctrl-C stops everything.",
        ])


@web.middleware
async def _correlation_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Every response of the local gateway carries X-Correlation-Id, its own routes included."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        response = error
    stamp_correlation_id(response, request, str(uuid.uuid4()))
    return response


async def _main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stack = LocalStack(LocalSettings.from_env())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.create_task(stack.start())
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting in done:
            starting.result()  # raise a start-up failure
            await stopping
        else:
            starting.cancel()
        return 0
    except Exception as error:  # noqa: BLE001 - one clear line, then a clean stop
        log.error("the local stack failed: %s", error)
        return 1
    finally:
        log.info("stopping")
        await stack.stop()


def main() -> None:
    sys.exit(asyncio.run(_main()))


if __name__ == "__main__":
    main()
