"""The local Lambda service: a pool of worker processes per function, as Lambda keeps execution environments.

- A request takes an idle worker (a warm start) or starts a new one (a cold start) while the
  function is under its concurrency cap; above the cap it waits for a worker to free up.
- Each worker runs with exactly the environment template.yaml gives the function, plus what the
  Lambda runtime itself sets; the code folder and the layers are its import path.
- The function's Timeout is enforced: the worker is killed and the caller gets Sandbox.Timedout.
- Every invocation is logged with its source, duration, outcome and whether it was cold.
- As the Lambda service does with active tracing, every invocation gets a function segment in the
  caller's trace (or a new one): the worker's `_X_AMZN_TRACE_ID` is `Root=<trace>;Parent=<that
  segment>;Sampled=1`, so the X-Ray SDK inside (Powertools Tracer) sends its subsegments, by UDP to
  AWS_XRAY_DAEMON_ADDRESS, under it. The segment itself goes straight to the stack's collector.
- What a function writes is relayed to the stack's log and read for EMF metrics and correlated
  log lines (telemetry.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from careforall_local.chaos import Chaos
from careforall_local.stack import ACCOUNT_ID, REGION, FunctionSpec
from careforall_local.telemetry import Telemetry
from careforall_local.tracing import TraceHeader, new_root, new_segment_id, parse_trace_header

log = logging.getLogger("careforall.runtime")
STREAM_LIMIT = 64 * 1024 * 1024  # Lambda's synchronous payload limit is 6 MB; leave room for encoding
INFRA_DIR = Path(__file__).resolve().parent.parent
DEFAULT_XRAY_DAEMON_ADDRESS = "127.0.0.1:2000"
# Local only (docs/local-stack.md): on AWS, API Gateway and the request path's functions never share CPU with
# the pipeline. Here they share two cores, so the pipeline's workers run at a lower OS priority and each pipeline
# invocation first lets the requests being answered finish, never waiting longer than this.
REQUEST_SOURCES = frozenset({"api", "authorizer", "websocket"})
PIPELINE_NICENESS = 10
PIPELINE_YIELD_SECONDS = 1.0
LineSink = Callable[[str, str], None]  # (function logical id, line)


@dataclass
class InvocationResult:
    request_id: str
    ok: bool
    payload: Any  # the handler's return value, or Lambda's error object
    duration_ms: float
    cold_start: bool
    init_ms: float | None = None
    trace_id: str | None = None  # the X-Ray trace the invocation ran in
    segment_id: str | None = None  # its AWS::Lambda::Function segment

    @property
    def error_type(self) -> str | None:
        return None if self.ok else (self.payload or {}).get("errorType")


class WorkerDied(Exception):
    pass


class Worker:
    def __init__(self, spec: FunctionSpec, process: asyncio.subprocess.Process,
                 on_line: LineSink | None = None) -> None:
        self.spec = spec
        self.process = process
        self.init_ms: float | None = None
        self.used = False
        self._relay: asyncio.Task | None = None
        self._on_line = on_line

    @classmethod
    async def start(cls, spec: FunctionSpec, env: dict[str, str], on_line: LineSink | None = None,
                    niceness: int = 0) -> "Worker":
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "careforall_local.worker", spec.handler,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, cwd=str(spec.code_dir), limit=STREAM_LIMIT,
            preexec_fn=functools.partial(_start_worker_process, niceness))
        worker = cls(spec, process, on_line)
        worker._relay = asyncio.create_task(worker._relay_logs())
        line = await process.stdout.readline()
        if not line:
            await process.wait()
            raise WorkerDied(f"{spec.name}: worker exited during init (code {process.returncode})")
        hello = json.loads(line)
        if not hello.get("ready"):
            await worker.kill()
            error = hello.get("error", {})
            raise WorkerDied(f"{spec.name}: init failed: {error.get('errorType')}: {error.get('errorMessage')}")
        worker.init_ms = hello.get("init_ms")
        return worker

    async def _relay_logs(self) -> None:
        """Function output, prefixed with its name: the local CloudWatch Logs (and its metrics and log index)."""
        logical_id = self.spec.logical_id
        prefix = f"[{logical_id}] "
        while True:
            line = await self.process.stderr.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace")
            sys.stderr.write(prefix + text)
            if self._on_line is not None:
                try:
                    self._on_line(logical_id, text)
                except Exception:  # noqa: BLE001 - telemetry must never stop a function's log
                    log.debug("log line not indexed", exc_info=True)

    async def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self.used = True
        self.process.stdin.write(json.dumps(request, default=str).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise WorkerDied(f"{self.spec.name}: runtime exited (code {await self.process.wait()})")
        return json.loads(line)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def kill(self) -> None:
        if self.alive:
            self.process.kill()
        await self.process.wait()
        if self._relay:
            await asyncio.gather(self._relay, return_exceptions=True)


class FunctionPool:
    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_concurrency: int,
                 on_line: LineSink | None = None, niceness: int = 0) -> None:
        self.spec = spec
        self.env = env
        self.on_line = on_line
        self.niceness = niceness
        cap = spec.reserved_concurrency if spec.reserved_concurrency is not None else max_concurrency
        self.max_concurrency = max(1, min(int(cap), max_concurrency))
        self.idle: deque[Worker] = deque()
        self.count = 0
        self._freed = asyncio.Condition()
        self.invocations = 0
        self.cold_starts = 0

    async def _acquire(self, env: dict[str, str] | None = None) -> tuple[Worker, bool]:
        async with self._freed:
            while True:
                while self.idle:
                    worker = self.idle.pop()  # most recently used first, as Lambda does
                    if worker.alive:
                        return worker, False
                    self.count -= 1
                if self.count < self.max_concurrency:
                    self.count += 1
                    break
                await self._freed.wait()
        try:
            worker = await Worker.start(self.spec, env or self.env, self.on_line, self.niceness)
        except BaseException:
            async with self._freed:
                self.count -= 1
                self._freed.notify()
            raise
        self.cold_starts += 1
        return worker, True

    async def _release(self, worker: Worker, healthy: bool) -> None:
        if not healthy:
            await worker.kill()
        async with self._freed:
            if healthy and worker.alive:
                self.idle.append(worker)
            else:
                self.count -= 1
            self._freed.notify()

    async def prewarm(self) -> None:
        """One environment initialized before any request, as provisioned concurrency is: its entry point loads
        the function's whole module at INIT (careforall.deferred). Environments added under load start on demand."""
        worker, _ = await self._acquire({**self.env, "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency"})
        await self._release(worker, healthy=True)

    async def invoke(self, event: Any, trace_header: str | None = None) -> InvocationResult:
        request_id = str(uuid.uuid4())
        started = time.perf_counter()
        self.invocations += 1
        try:
            worker, cold = await self._acquire()
        except WorkerDied as died:
            return InvocationResult(request_id, False, {"errorType": "Runtime.InitError", "errorMessage": str(died)},
                                    (time.perf_counter() - started) * 1000, True)
        fresh = not worker.used
        deadline_ms = int(time.time() * 1000) + self.spec.timeout * 1000
        healthy = True
        try:
            reply = await asyncio.wait_for(
                worker.call({"request_id": request_id, "event": event, "deadline_ms": deadline_ms,
                             "trace_id": trace_header}),
                timeout=self.spec.timeout)
            ok, payload = reply["ok"], reply.get("result") if reply["ok"] else reply.get("error")
        except asyncio.TimeoutError:
            healthy = False  # Lambda resets the sandbox after a timeout
            ok, payload = False, {"errorType": "Sandbox.Timedout",
                                  "errorMessage": f"Task timed out after {self.spec.timeout:.2f} seconds"}
        except (WorkerDied, BrokenPipeError, ConnectionResetError) as died:
            healthy = False
            ok, payload = False, {"errorType": "Runtime.ExitError", "errorMessage": str(died)}
        finally:
            await self._release(worker, healthy)
        return InvocationResult(request_id, ok, payload, (time.perf_counter() - started) * 1000,
                                cold_start=cold or fresh, init_ms=worker.init_ms if (cold or fresh) else None)

    async def shutdown(self) -> None:
        workers = list(self.idle)
        self.idle.clear()
        await asyncio.gather(*(w.kill() for w in workers), return_exceptions=True)


class FunctionRuntime:
    """All functions of the stack, by physical name."""

    def __init__(self, specs: dict[str, FunctionSpec], aws_endpoint: str, max_concurrency: int = 8,
                 chaos: Chaos | None = None, telemetry: Telemetry | None = None,
                 xray_daemon_address: str = DEFAULT_XRAY_DAEMON_ADDRESS,
                 request_path: frozenset[str] | None = None) -> None:
        """`request_path`: physical names of the functions that answer requests (API routes, authorizers,
        WebSocket routes), whose workers keep the normal priority while the pipeline's run lower and its invocations
        let requests finish first; None: no priorities, every function and invocation as equals."""
        self.specs = specs
        self.chaos = chaos or Chaos()
        self.telemetry = telemetry or Telemetry()
        self.xray_daemon_address = xray_daemon_address
        self.request_path = request_path
        pipeline = set() if request_path is None else set(specs) - request_path
        self.pools = {name: FunctionPool(spec, lambda_environment(spec, aws_endpoint, xray_daemon_address),
                                         max_concurrency, self.telemetry.observe_line,
                                         niceness=PIPELINE_NICENESS if name in pipeline else 0)
                      for name, spec in specs.items()}
        self.requests_in_flight = 0
        self._requests_idle = asyncio.Event()
        self._requests_idle.set()
        self.pipeline_yields = 0  # pipeline invocations that waited for requests to finish first

    async def _yield_to_requests(self) -> None:
        """Locally the pipeline shares two cores with the request path, which on AWS has capacity of its own:
        a pipeline invocation waits while requests are being answered, at most PIPELINE_YIELD_SECONDS."""
        if self.request_path is None or self.requests_in_flight == 0:
            return
        self.pipeline_yields += 1
        try:
            await asyncio.wait_for(self._requests_idle.wait(), timeout=PIPELINE_YIELD_SECONDS)
        except asyncio.TimeoutError:
            pass

    def has(self, name: str) -> bool:
        return self._resolve(name) is not None

    def _resolve(self, name_or_arn: str) -> FunctionPool | None:
        name = name_or_arn.split(":function:", 1)[1].split(":")[0] if ":function:" in name_or_arn else name_or_arn
        return self.pools.get(name)

    async def invoke(self, name_or_arn: str, event: Any, source: str, detail: str = "",
                     trace_header: str | None = None) -> InvocationResult:
        """Run the function once. `trace_header` is the caller's X-Amzn-Trace-Id (None: a new trace)."""
        pool = self._resolve(name_or_arn)
        if pool is None:
            raise KeyError(name_or_arn)
        upstream = parse_trace_header(trace_header)
        root = upstream.root if upstream else new_root()
        segment_id = new_segment_id()
        sampled = not (upstream and upstream.sampled == "0")  # Lambda follows the caller's decision
        worker_header = str(TraceHeader(root, segment_id, "1" if sampled else "0"))
        request = source in REQUEST_SOURCES
        if request:
            self.requests_in_flight += 1
            self._requests_idle.clear()
        else:
            await self._yield_to_requests()
        started = time.time()
        try:
            if self.chaos.active and self.chaos.applies_to(source, pool.spec.logical_id):
                result = await self._invoke_with_chaos(pool, event, worker_header)
            else:
                result = await pool.invoke(event, worker_header)
        finally:
            if request:
                self.requests_in_flight -= 1
                if self.requests_in_flight == 0:
                    self._requests_idle.set()
        ended = time.time()
        result.trace_id, result.segment_id = root, segment_id
        self.telemetry.function(pool.spec.logical_id).record(
            result.ok, result.duration_ms, result.cold_start, None if result.ok else result.payload, ended)
        if sampled:
            self.telemetry.traces.record(_function_segment(
                pool.spec, result, source, root, segment_id, upstream.parent if upstream else None, started, ended))
        outcome = "ok" if result.ok else f"error {result.error_type}"
        start = f"cold (init {result.init_ms:.0f} ms)" if result.cold_start and result.init_ms else "warm"
        log.info("invoke %s source=%s %s%.1f ms %s %s", pool.spec.logical_id, source,
                 f"{detail} " if detail else "", result.duration_ms, outcome, start)
        return result

    async def _invoke_with_chaos(self, pool: FunctionPool, event: Any, trace_header: str) -> InvocationResult:
        if self.chaos.latency_ms:
            await asyncio.sleep(self.chaos.latency_ms / 1000)
        if self.chaos.roll(self.chaos.fail_before):
            return InvocationResult(str(uuid.uuid4()), False, {
                "errorType": "Chaos.FailBeforeHandler", "errorMessage": "chaos: failed before the handler ran"},
                0.0, False)
        result = await pool.invoke(event, trace_header)
        if result.ok and self.chaos.roll(self.chaos.fail_after):
            # The handler's writes happened; the caller sees a failure and retries, as after a crash.
            return InvocationResult(result.request_id, False, {
                "errorType": "Chaos.FailAfterHandler", "errorMessage": "chaos: failed after the handler ran"},
                result.duration_ms, result.cold_start, result.init_ms)
        return result

    async def prewarm(self, parallelism: int = 2) -> None:
        gate = asyncio.Semaphore(parallelism)

        async def warm(pool: FunctionPool) -> None:
            async with gate:
                await pool.prewarm()

        await asyncio.gather(*(warm(p) for p in self.pools.values()))

    async def shutdown(self) -> None:
        await asyncio.gather(*(p.shutdown() for p in self.pools.values()), return_exceptions=True)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per function (logical id): its pool (workers, idle, invocations, cold_starts, max_concurrency) and
        its outcomes (errors, errors_last_minute, p50_ms, p99_ms over the last 2,000, last_error)."""
        now = time.time()
        return {p.spec.logical_id: {"workers": p.count, "idle": len(p.idle), "invocations": p.invocations,
                                    "cold_starts": p.cold_starts, "max_concurrency": p.max_concurrency,
                                    **self.telemetry.function(p.spec.logical_id).snapshot(now)}
                for p in self.pools.values()}

    def function_names(self) -> dict[str, str]:
        """Physical name -> logical id of every function."""
        return {name: spec.logical_id for name, spec in self.specs.items()}


def _function_segment(spec: FunctionSpec, result: InvocationResult, source: str, trace_id: str, segment_id: str,
                      parent_id: str | None, started: float, ended: float) -> dict[str, Any]:
    """The AWS::Lambda::Function segment the Lambda service records for one invocation."""
    segment: dict[str, Any] = {
        "name": spec.name, "id": segment_id, "trace_id": trace_id, "start_time": started, "end_time": ended,
        "origin": "AWS::Lambda::Function",
        "aws": {"function_logical_id": spec.logical_id, "function_arn": spec.arn, "request_id": result.request_id,
                "cold_start": result.cold_start, "source": source},
    }
    if parent_id:
        segment["parent_id"] = parent_id
    if result.cold_start and result.init_ms and result.duration_ms >= result.init_ms:  # started in this call
        segment["subsegments"] = [{"name": "Initialization", "id": new_segment_id(), "start_time": started,
                                   "end_time": min(ended, started + result.init_ms / 1000)}]
    if not result.ok:
        error = result.payload if isinstance(result.payload, dict) else {}
        segment["fault"] = True
        segment["cause"] = {"exceptions": [{"type": error.get("errorType"),
                                            "message": str(error.get("errorMessage", ""))[:1000]}]}
    return segment


def lambda_environment(spec: FunctionSpec, aws_endpoint: str,
                       xray_daemon_address: str = DEFAULT_XRAY_DAEMON_ADDRESS) -> dict[str, str]:
    """The function's template environment plus what the Lambda runtime sets; nothing leaks from ours."""
    python_path = [str(spec.code_dir), *(str(p) for p in spec.layer_dirs), str(INFRA_DIR)]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join(python_path),
        "PYTHONUNBUFFERED": "1",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local/[$LATEST]local",
        "CAREFORALL_LOCAL_FUNCTION_ARN": spec.arn,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_ACCOUNT_ID": ACCOUNT_ID,
        "AWS_ENDPOINT_URL": aws_endpoint,
        # As Lambda sets them with active tracing: the X-Ray SDK runs in Lambda mode (a facade segment
        # from _X_AMZN_TRACE_ID, set per invocation by the worker) and sends to the local daemon.
        "AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address,
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
    }
    env.update(spec.environment)
    return env


def _start_worker_process(niceness: int) -> None:
    _die_with_parent()
    if niceness:
        os.nice(niceness)


def _die_with_parent() -> None:
    """Linux: a worker gets SIGTERM when the stack process dies, so nothing outlives `make run`."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
