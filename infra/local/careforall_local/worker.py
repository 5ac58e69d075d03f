"""One Lambda execution environment: imports a handler once (the cold start), then serves invocations.

Protocol with the runtime, one JSON object per line:
  worker -> runtime, once:  {"ready": true, "init_ms": 812.5} | {"ready": false, "error": {...}}
  runtime -> worker:        {"request_id", "event", "deadline_ms", "trace_id"}  (trace_id: the X-Amzn-Trace-Id
                            header of the invocation, which Lambda puts in _X_AMZN_TRACE_ID)
  worker -> runtime:        {"request_id", "ok": true, "result": ...} | {"request_id", "ok": false, "error": {...}}
The protocol uses the process's original stdout; the handler's own stdout (Powertools logs) is
redirected to stderr, which the runtime relays to the stack's log, as CloudWatch would collect it.

Run: python -m careforall_local.worker <handler>   (module.function; code and layers on PYTHONPATH)
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback


class LambdaContext:
    """The attributes of the real context object that functions and Powertools read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("CAREFORALL_LOCAL_FUNCTION_ARN", "")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(exc: BaseException) -> dict:
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_exception(type(exc), exc, exc.__traceback__)[-12:],
    }


def main() -> None:
    # Ctrl-C reaches the whole process group; the runtime decides when a sandbox ends, not the terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handler_path = sys.argv[1]
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # the handler's prints and logs go to stderr from here on
    sys.stdout = os.fdopen(1, "w", buffering=1, encoding="utf-8", closefd=False)
    started = time.perf_counter()
    try:
        module_name, function_name = handler_path.rsplit(".", 1)
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as exc:  # noqa: BLE001 - report every init failure, as Lambda's Runtime.ImportModuleError
        protocol.write(json.dumps({"ready": False, "error": _error(exc)}) + "\n")
        protocol.flush()
        sys.exit(1)
    protocol.write(json.dumps({"ready": True, "init_ms": round((time.perf_counter() - started) * 1000, 1)}) + "\n")
    protocol.flush()

    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id") or ""
        context = LambdaContext(request["request_id"], request["deadline_ms"])
        try:
            result = handler(request["event"], context)
            reply = {"request_id": request["request_id"], "ok": True, "result": result}
            encoded = json.dumps(reply, default=str)
        except BaseException as exc:  # noqa: BLE001 - a handler error is a reply, not the end of the sandbox
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            print(json.dumps({"level": "ERROR", "message": "handler raised", **_error(exc)}), file=sys.stderr)
            encoded = json.dumps({"request_id": request["request_id"], "ok": False, "error": _error(exc)})
        sys.stdout.flush()
        protocol.write(encoded + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
