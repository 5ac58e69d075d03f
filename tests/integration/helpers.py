"""Assertions and builders shared by the integration tests. HTTP only: nothing here imports function code."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import requests
from jose import jwt

PROBLEM_JSON = "application/problem+json"
MONEY = re.compile(r"^-?\d+\.\d{2}$")

# The documented local stack's token settings (README / settings.py): not secrets, local only.
LOCAL_JWT_KEY = "careforall-local-jwt-signing-key-not-for-production-000000"
TOKEN_ISSUER = "https://auth.careforall.org"
TOKEN_AUDIENCE = "careforall-api"


def media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def assert_correlated(response: requests.Response) -> None:
    assert response.headers.get("X-Correlation-Id"), f"no X-Correlation-Id on {response.status_code} {response.url}"


def assert_json(response: requests.Response, status: int):
    """The response has `status`, a JSON body and an X-Correlation-Id; returns the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert media_type(response) == "application/json", response.headers.get("Content-Type")
    assert_correlated(response)
    return response.json()


def assert_problem(response: requests.Response, status: int) -> dict:
    """The response is an RFC 9457 problem with `status` and an X-Correlation-Id; returns the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text[:500]}"
    assert media_type(response) == PROBLEM_JSON, response.headers.get("Content-Type")
    assert_correlated(response)
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str)
    return body


def assert_utc_timestamp(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() == timedelta(0), f"{value} is not UTC"
    return moment


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def forge_token(key: str = LOCAL_JWT_KEY, *, sub: str | None = None, email: str = "forged@example.com",
                role: str = "DONOR", issued_at: int | None = None, lifetime: int = 3600,
                issuer: str = TOKEN_ISSUER, audience: str = TOKEN_AUDIENCE) -> str:
    """An HS256 token shaped exactly like the ones the stack issues, signed with `key`."""
    now = int(time.time()) if issued_at is None else issued_at
    claims = {"sub": sub or str(uuid.uuid4()), "email": email, "role": role, "iss": issuer, "aud": audience,
              "iat": now, "exp": now + lifetime, "jti": uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="HS256")


# ---------------------------------------------------------------- pledges, mail and the AWS endpoint

LOOKUP_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9._~-]+)")


def new_idempotency_key() -> str:
    return f"key-{uuid.uuid4()}"


def poll(probe, *, timeout: float, interval: float = 0.1, what: str = "the condition"):
    """Calls `probe` until it returns something truthy and returns that; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s (last result: {result!r})")
        time.sleep(interval)


def mail_to(base_url: str, email: str) -> list[dict]:
    """Every mail the local stack sent to `email` (case-insensitively), oldest first."""
    response = requests.get(f"{base_url}/_local/mail", timeout=10)
    assert response.status_code == 200, response.text
    return [m for m in response.json()["messages"] if email.lower() in (to.lower() for to in m.get("to") or [])]


def aws_client(endpoint: str, service: str):
    """A boto3 client for the local stack's AWS endpoint (local dummy credentials), to inspect its state."""
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")


# ---------------------------------------------------------------- payments: webhooks, histories, the stack's own view

LOCAL_WEBHOOK_SECRET = "whsec_careforall_local"  # the documented local default of CAREFORALL_WEBHOOK_SECRET
SIGNATURE_HEADER = "CareForAll-Signature"
PAYMENT_RANK = {"PENDING": 0, "AUTHORIZED": 1, "CAPTURED": 2, "COMPLETED": 3, "FAILED": 4}
TERMINAL_PAYMENT_STATES = {"COMPLETED", "FAILED"}
PAYMENT_STATE_MACHINE = "careforall-PaymentStateMachine"
PAYMENTS_QUEUE = "careforall-PaymentsQueue.fifo"
PAYMENTS_TABLE = "careforall-PaymentsTable"


def webhook_signature(body: bytes, *, secret: str = LOCAL_WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`, computed from CONTRACT.md (not the code)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1=" + hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()


def webhook_event(payment_id: str, kind: str, *, event_id: str | None = None, provider_ref: str = "pi_test_ref",
                  amount: int = 2500, **data) -> dict:
    """A provider event as CONTRACT.md describes it; `kind` is authorized|captured|completed|failed."""
    return {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": f"payment.{kind}", "created": int(time.time()),
            "data": {"payment_id": payment_id, "provider_ref": provider_ref, "amount": amount, **data}}


def post_webhook(base_url: str, event: dict | None = None, *, raw: bytes | None = None, signature: str | None = "sign",
                 timestamp: int | None = None, session: requests.Session | None = None) -> requests.Response:
    """POSTs a webhook: `event` as JSON (or `raw` bytes), signed with the local secret unless `signature` is given
    (None sends no signature header)."""
    body = raw if raw is not None else json.dumps(event, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers[SIGNATURE_HEADER] = webhook_signature(body, timestamp=timestamp)
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return (session or requests).post(f"{base_url}/webhooks/payments", data=body, headers=headers, timeout=30)


def assert_forward_history(history: list[dict]) -> list[str]:
    """The history is a chain from PENDING in which every step moves strictly forward; returns the states entered."""
    assert history, "the payment has no history"
    previous = "PENDING"
    for entry in history:
        assert entry["from"] == previous, f"the history is not a chain: {history}"
        assert previous not in TERMINAL_PAYMENT_STATES, f"a terminal state moved: {history}"
        assert PAYMENT_RANK[entry["to"]] > PAYMENT_RANK[entry["from"]], f"a step moved backward: {history}"
        assert entry["event_id"] and assert_utc_timestamp(entry["at"])
        previous = entry["to"]
    event_ids = [entry["event_id"] for entry in history]
    assert len(set(event_ids)) == len(event_ids), f"an event was applied twice: {history}"
    return [entry["to"] for entry in history]


def function_records(log: str, function: str) -> list[dict]:
    """The JSON lines (Powertools logs and EMF metrics) that `function` (a logical id) wrote to the stack log."""
    prefix = f"[{function}] "
    records = []
    for line in log.splitlines():
        if line.startswith(prefix):
            try:
                records.append(json.loads(line[len(prefix):]))
            except ValueError:
                continue
    return records


def metric_total(log: str, function: str, metric: str) -> int:
    """How many times `function` counted `metric` (EMF, one value per count) in the stack log."""
    return sum(len(record[metric]) for record in function_records(log, function)
               if "_aws" in record and isinstance(record.get(metric), list))


def payment_executions(endpoint: str) -> list[dict]:
    """Every execution of the payment state machine (each named after its payment id)."""
    sfn = aws_client(endpoint, "stepfunctions")
    machines = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"] == PAYMENT_STATE_MACHINE]
    assert len(machines) == 1, machines
    executions, token = [], None
    while True:
        page = sfn.list_executions(stateMachineArn=machines[0]["stateMachineArn"], maxResults=1000,
                                   **({"nextToken": token} if token else {}))
        executions += page["executions"]
        token = page.get("nextToken")
        if not token:
            return executions


def amount_cents(amount: str) -> int:
    return int(Decimal(amount) * 100)


def pledge_created_message(pledge: dict, payment_method: str) -> dict:
    """The pledge.created event the outbox relay publishes for `pledge` (a pledge as the API shows it)."""
    return {"type": "pledge.created", "version": 1, "id": f"pledge.created:{pledge['id']}",
            "occurred_at": datetime.now(timezone.utc).isoformat(), "data": {
                "pledge_id": pledge["id"], "campaign_id": pledge["campaign_id"], "donor_id": pledge["donor_id"],
                "donor_email": pledge["donor_email"], "amount": pledge["amount"],
                "amount_cents": amount_cents(pledge["amount"]), "currency": pledge["currency"],
                "payment_method": payment_method, "created_at": pledge["created_at"]}}


# ---------------------------------------------------------------- totals: an idle pipeline, table scans, all mail

def ops(base_url: str) -> dict:
    """The ops page's data (GET /_local/ops/data): functions, event_sources, queues, streams, metrics, ..."""
    response = requests.get(f"{base_url}/_local/ops/data", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def wait_until_idle(base_url: str, *, quiet_seconds: float = 3.0, timeout: float = 120) -> float:
    """Waits until no function runs and no invocation starts for `quiet_seconds` (longer than a stream poller's
    retry backoff, 2 s at most), per GET /_local/ops/data; returns how long it waited."""
    started = time.monotonic()
    deadline = started + timeout
    last_counts, quiet_since = None, time.monotonic()
    while True:
        functions = ops(base_url)["functions"]
        counts = {name: f["invocations"] for name, f in functions.items()}
        busy = [name for name, f in functions.items() if f["workers"] != f["idle"]]
        now = time.monotonic()
        if busy or counts != last_counts:
            last_counts, quiet_since = counts, now
        elif now - quiet_since >= quiet_seconds:
            return now - started
        if now > deadline:
            raise AssertionError(f"the pipeline was not idle within {timeout} s (busy: {busy})")
        time.sleep(0.2)


def table_name(endpoint: str, logical_id: str) -> str:
    """The physical name of a template table (`careforall-<LogicalId>` locally)."""
    names = [n for n in aws_client(endpoint, "dynamodb").list_tables()["TableNames"] if n.endswith(f"-{logical_id}")]
    assert len(names) == 1, names
    return names[0]


def scan_table(endpoint: str, logical_id: str) -> list[dict]:
    """Every item of a template table as plain values (numbers as Decimal), strongly consistent."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer, client = TypeDeserializer(), aws_client(endpoint, "dynamodb")
    request, items = {"TableName": table_name(endpoint, logical_id), "ConsistentRead": True}, []
    while True:
        page = client.scan(**request)
        items += [{k: deserializer.deserialize(v) for k, v in item.items()} for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def all_mail(base_url: str) -> list[dict]:
    """Every mail the local stack sent, oldest first: {from, to, subject, text, ...}."""
    response = requests.get(f"{base_url}/_local/mail", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["messages"]
