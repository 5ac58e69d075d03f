"""The local AWS endpoint (127.0.0.1:4566): moto for every service, our runtime for Lambda Invoke.

moto cannot run Lambda code without Docker, so `POST /2015-03-31/functions/{name}/invocations`
is answered by forwarding it to the local function runtime; every other request goes to moto's
WSGI app, served by waitress (keep-alive, no per-request logging: moto's own server logs every
request and halves its throughput). MOTO_PORT names this endpoint, so the Step Functions
interpreter inside moto reaches our functions through the same door.

Run: python -m careforall_local.emulator --port 4566 --invoke-url http://127.0.0.1:4567
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from careforall_local import moto_patches
from careforall_local.write_meter import WRITES_PATH, DynamoDBWriteMeter, write_operation

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")


MAIL_PATH = "/_careforall/mail"


class MailOutbox:
    """Every email moto's SES accepted (v1 SendEmail and v2 SendEmail), newest last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[dict] = []

    def record(self, message: dict) -> None:
        with self._lock:
            self.messages.append(message)

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()


def _ses_message(environ, body: bytes) -> dict | None:
    """The email in an SES send request, or None when the request is not a send."""
    path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD")
    if method == "POST" and path.rstrip("/") == "/v2/email/outbound-emails":
        request = json.loads(body or b"{}")
        simple = (request.get("Content") or {}).get("Simple") or {}
        destination = request.get("Destination") or {}
        return {"from": request.get("FromEmailAddress"), "to": destination.get("ToAddresses", []),
                "cc": destination.get("CcAddresses", []), "subject": (simple.get("Subject") or {}).get("Data"),
                "text": ((simple.get("Body") or {}).get("Text") or {}).get("Data"),
                "html": ((simple.get("Body") or {}).get("Html") or {}).get("Data"), "api": "sesv2"}
    if method == "POST" and b"Action=SendEmail" in body:
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
        if form.get("Action") != "SendEmail":
            return None
        return {"from": form.get("Source"),
                "to": [v for k, v in sorted(form.items()) if k.startswith("Destination.ToAddresses.member.")],
                "cc": [v for k, v in sorted(form.items()) if k.startswith("Destination.CcAddresses.member.")],
                "subject": form.get("Message.Subject.Data"), "text": form.get("Message.Body.Text.Data"),
                "html": form.get("Message.Body.Html.Data"), "api": "ses"}
    return None


class LambdaInvokeRouter:
    """WSGI middleware: Lambda Invoke goes to the function runtime, the rest to moto; SES sends are kept and
    DynamoDB writes counted (write_meter.py)."""

    def __init__(self, moto_app, invoke_url: str) -> None:
        self._moto = moto_app
        self._invoke_url = invoke_url.rstrip("/")
        self.outbox = MailOutbox()
        self.writes = DynamoDBWriteMeter()

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        match = _INVOKE_PATH.match(path)
        if environ.get("REQUEST_METHOD") == "POST" and match:
            return self._invoke(environ, start_response)
        if path == MAIL_PATH:
            return self._mail(environ, start_response)
        if path == WRITES_PATH:
            return self._writes(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST" and "/ses/aws4_request" in environ.get("HTTP_AUTHORIZATION", ""):
            return self._ses(environ, start_response)
        if environ.get("HTTP_X_AMZN_TRACE_ID") and environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.SendMessage":
            _add_aws_trace_header(environ)
        if moto_patches.is_dynamodb_request(environ):
            operation = write_operation(environ)
            if operation:
                return self._dynamodb_write(operation, environ, start_response)
            with moto_patches.DYNAMODB_LOCK:  # conditional writes must be atomic (moto_patches.py)
                return list(self._moto(environ, start_response))
        return self._moto(environ, start_response)

    def _dynamodb_write(self, operation: str, environ, start_response):
        body = _read_body(environ)
        with moto_patches.DYNAMODB_LOCK:  # conditional writes must be atomic (moto_patches.py)
            targets = self.writes.before(operation, body)
            status, chunks = _call(self._moto, environ, start_response)
            self.writes.record(operation, body, status, b"".join(chunks), targets)  # reads the images after
        return chunks

    def _writes(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "DELETE":
            self.writes.reset()
        payload = json.dumps(self.writes.snapshot()).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def _ses(self, environ, start_response):
        body = _read_body(environ)
        status, chunks = _call(self._moto, environ, start_response)
        message = _ses_message(environ, body) if status == 200 else None
        if message is not None:
            self.outbox.record({**message, "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        return chunks

    def _mail(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "DELETE":
            self.outbox.clear()
        payload = json.dumps({"messages": self.outbox.messages}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]

    def _invoke(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {"Content-Type": "application/json"}
        for wsgi_key, header in (("HTTP_X_AMZ_INVOCATION_TYPE", "X-Amz-Invocation-Type"),
                                 ("HTTP_X_AMZ_LOG_TYPE", "X-Amz-Log-Type"),
                                 ("HTTP_X_AMZ_CLIENT_CONTEXT", "X-Amz-Client-Context"),
                                 ("HTTP_X_AMZN_TRACE_ID", "X-Amzn-Trace-Id")):  # the caller's trace
            if environ.get(wsgi_key):
                headers[header] = environ[wsgi_key]
        query = environ.get("QUERY_STRING")
        url = self._invoke_url + environ["PATH_INFO"] + (f"?{query}" if query else "")
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=960) as response:
                status, payload, reply_headers = response.status, response.read(), response.headers.items()
        except urllib.error.HTTPError as error:
            status, payload, reply_headers = error.code, error.read(), error.headers.items()
        except OSError as error:
            status = 502
            payload = (b'{"__type": "ServiceException", "message": "function runtime unreachable: '
                       + str(error).encode().replace(b'"', b"'") + b'"}')
            reply_headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "ServiceException")]
        keep = {"content-type", "x-amz-function-error", "x-amz-executed-version", "x-amz-log-result",
                "x-amzn-requestid", "x-amzn-errortype"}
        out = [(k, v) for k, v in reply_headers if k.lower() in keep]
        out.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", out)
        return [payload]


def _read_body(environ) -> bytes:
    """The request body, put back so the app behind reads it too."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _call(app, environ, start_response) -> tuple[int, list[bytes]]:
    """Runs a WSGI app to the end: its status code and its body."""
    captured = {"status": 500}

    def capture_status(status, headers, exc_info=None):
        captured["status"] = int(status.split(" ", 1)[0])
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

    chunks = list(app(environ, capture_status))
    return captured["status"], chunks


def _add_aws_trace_header(environ) -> None:
    """SQS keeps the sender's X-Amzn-Trace-Id as the message's AWSTraceHeader system attribute (unless the
    request sets one), so a traced sender's consumer joins its trace; moto only keeps an explicit one.
    (SendMessageBatch: moto drops system attributes altogether, so batch sends carry no trace locally.)"""
    body = _read_body(environ)
    try:
        request = json.loads(body)
        header = {"DataType": "String", "StringValue": environ["HTTP_X_AMZN_TRACE_ID"]}
        request.setdefault("MessageSystemAttributes", {}).setdefault("AWSTraceHeader", header)
        body = json.dumps(request).encode()
    except (ValueError, AttributeError, TypeError):
        pass  # not ours to judge: moto answers it as it is
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def build_app(invoke_url: str):
    from moto import settings as moto_settings  # noqa: F401 - imported after MOTO_PORT is set
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_patches.apply()

    return LambdaInvokeRouter(DomainDispatcherApplication(create_backend_app), invoke_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--invoke-url", required=True)
    parser.add_argument("--threads", type=int, default=128)  # SQS long polls and SDK Lambda invokes hold one each
    parser.add_argument("--workflow-endpoint-port", type=int, default=None)
    parser.add_argument("--ignore-sigint", action="store_true")
    args = parser.parse_args(argv)
    if args.ignore_sigint:  # started by the stack, which stops it with SIGTERM after its own clean-up
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # moto's Step Functions interpreter calls http://localhost:$MOTO_PORT. It points at the function
    # runtime's own endpoint (which proxies every other call back here), so a workflow's Lambda task
    # does not hold one of this server's threads while it waits for a worker.
    os.environ["MOTO_PORT"] = str(args.workflow_endpoint_port or args.port)
    app = build_app(args.invoke_url)

    import waitress

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" warnings under bursts
    print(f"aws emulator listening on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    waitress.serve(app, host=args.host, port=args.port, threads=args.threads, ident="careforall-aws",
                   channel_timeout=120, connection_limit=1000, _quiet=True)


if __name__ == "__main__":
    main()
