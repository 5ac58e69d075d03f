"""Schemathesis over every operation of the OpenAPI document the stack serves at /openapi.json.

Each operation is fuzzed with schema-valid and with schema-violating data (schemathesis' positive and negative
generation, `APIOperation.as_strategy`), and each route with an `{id}` once more with valid data around an existing
id; 50 examples a run, derandomized and with no example database, so a run is reproducible. The admin's bearer token
goes where the document asks for one, and the document's email strings are marked `format: email` (see mark_emails)
so that valid data gets past email validation. Each response is checked:
- `not_a_server_error` (schemathesis' own): no 5xx, ever;
- `problem_details`: every error is application/problem+json with type, title, status (the response's own) and
  detail, and carries an X-Correlation-Id (the contract's error shape).
The document lists only 200 and 422 answers (Powertools' generated responses), so schemathesis' status-code,
content-type and schema conformance checks would flag every contract answer (201, 401, 404, ...): they are not run.
A 429 is an answer of the contract too (failed logins and lookups are limited per client, and the stage throttles):
it must be a problem like any other error.

schemathesis' pytest integration (`schemathesis.pytest.from_fixture`, which also runs its coverage phase) cannot be
used with pytest 9.2: it sets `request.node._nodeid`, which pytest 9.2 no longer has (AttributeError). Hence
Hypothesis' `@given` over schemathesis' strategies, one pytest test per operation and mode.

Nothing is excluded silently. POST /webhooks/payments is fuzzed like the rest, but its document names no body and no
signature, so schemathesis can only reach the signature check (401); signed bodies are fuzzed below with Hypothesis
directly, and test_webhook_security.py covers the signature itself. POST /campaigns/{id}/pledges gets a fresh
Idempotency-Key (the document does not name that header either), so its body is judged rather than refused at once.

It runs on the security stack (conftest.py): schemathesis fails logins and asks for lookups by the hundred, which
would use up the session stack's per-client limits.
"""

from __future__ import annotations

import json
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.integration.helpers import PROBLEM_JSON, assert_json, new_idempotency_key, post_webhook, webhook_event
from tests.integration.security.support import ROUTES

SEED = 20261125
EXAMPLES_PER_RUN = 50
WEBHOOK_EXAMPLES = 150


def mark_emails(node) -> None:
    """Adds `format: email` to the document's email strings (pydantic leaves it out: the models check emails with
    email-validator), so that positive data gets past email validation and reaches the functions' logic."""
    if isinstance(node, dict):
        if str(node.get("title", "")).endswith("Email"):
            for schema in [node, *node.get("anyOf", [])]:
                if schema.get("type") == "string":
                    schema["format"] = "email"
        for value in node.values():
            mark_emails(value)
    elif isinstance(node, list):
        for value in node:
            mark_emails(value)


@pytest.fixture(scope="module")
def openapi_schema(security_stack):
    """The document as the security stack serves it (emails marked), loaded by schemathesis."""
    document = assert_json(security_stack.api.get("/openapi.json"), 200)
    mark_emails(document)
    config = schemathesis.Config.from_dict({"seed": SEED, "generation": {"database": "none", "deterministic": True}})
    return schemathesis.openapi.from_dict(document, config=config)


@pytest.fixture(scope="module")
def existing_ids(security_stack) -> dict[str, str]:
    """Real ids for the `{id}` of each route, so fuzzed queries and bodies also meet existing things: a campaign to
    pledge to and read, another one that fuzzed PATCHes may close, a pledge, its payment, a throwaway donor."""
    campaign = security_stack.create_campaign()["id"]
    pledge = security_stack.create_pledge(campaign, amount="9.00")["id"]
    donor = assert_json(security_stack.api.post("/auth/register", json={
        "email": f"fuzzed-{uuid.uuid4().hex[:12]}@example.com", "password": "correct horse battery",
        "name": "Fuzzy Donor"}), 201)["user"]["id"]
    return {"GET /campaigns/{id}": campaign, "POST /campaigns/{id}/pledges": campaign,
            "GET /campaigns/{id}/pledges": campaign, "GET /campaigns/{id}/totals": campaign,
            "PATCH /campaigns/{id}": security_stack.create_campaign()["id"], "GET /pledges/{id}": pledge,
            "GET /payments/{id}": security_stack.wait_for_payment_id(pledge), "PUT /users/{id}/role": donor}


# One refusal comes from the local gateway's HTTP server (aiohttp) before any route runs, as plain text: a request
# line over its 16 KiB limit (API Gateway refuses those too, above 10 KiB, with its own answer).
LOCAL_HTTP_REFUSALS = (
    (400, b"Got more than"),
)


def problem_details(ctx, response, case) -> None:
    """Every error answer is an RFC 9457 problem with the contract's members and an X-Correlation-Id."""
    if response.status_code < 400:
        return
    if any(response.status_code == status and response.content.startswith(text)
           for status, text in LOCAL_HTTP_REFUSALS):
        return
    media_type = (response.headers.get("content-type") or [""])[0].split(";", 1)[0].strip().lower()
    assert media_type == PROBLEM_JSON, f"error {response.status_code} answered as {media_type!r}"
    assert response.headers.get("x-correlation-id"), f"error {response.status_code} without X-Correlation-Id"
    body = json.loads(response.content)
    assert isinstance(body, dict), body
    missing = {"type", "title", "status", "detail"} - set(body)
    assert not missing, f"problem without {sorted(missing)}: {body}"
    assert body["status"] == response.status_code, body


def route_ids(route) -> str:
    return route.name


# Every operation with positive and negative data, and the routes with an `{id}` once more with positive data around
# an existing id. Not the webhook's negative run: its document names no parameter and no body, so there is nothing to
# make invalid (Hypothesis reports it unsatisfiable); its positive run still posts, and the signed fuzzing below
# covers what it takes.
POSITIVE, NEGATIVE, EXISTING_ID = "positive", "negative", "existing-id"
FUZZ_RUNS = [(route, run) for route in ROUTES for run in (POSITIVE, NEGATIVE, EXISTING_ID)
             if not (route.name == "POST /webhooks/payments" and run == NEGATIVE)
             and not (run == EXISTING_ID and not route.has_id)]


@pytest.mark.parametrize(("route", "run"), FUZZ_RUNS, ids=[f"{route.name}-{run}" for route, run in FUZZ_RUNS])
def test_fuzz_operation_answers_without_server_error_and_with_problem_details(openapi_schema, existing_ids,
                                                                              security_stack, route, run):
    operation = openapi_schema[route.path][route.method]
    base_url, token = security_stack.stack.base_url, security_stack.admin_token
    strategy = operation.as_strategy(
        generation_mode=GenerationMode.NEGATIVE if run == NEGATIVE else GenerationMode.POSITIVE,
        **({"path_parameters": {"id": existing_ids[route.name]}} if run == EXISTING_ID else {}))

    @settings(max_examples=EXAMPLES_PER_RUN, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=strategy)
    def fuzz(case):
        headers = {}
        if operation.definition.raw.get("security"):
            headers["Authorization"] = f"Bearer {token}"
        if route.name == "POST /campaigns/{id}/pledges":
            headers["Idempotency-Key"] = new_idempotency_key()
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, problem_details])

    fuzz()


# ---------------------------------------------------------------- the webhook, signed

json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
                           lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(st.text(max_size=10), children, max_size=4), max_leaves=12)
event_types = st.sampled_from(["payment.authorized", "payment.captured", "payment.completed", "payment.failed",
                               "payment.refunded", ""]) | st.text(max_size=30)


@st.composite
def webhook_bodies(draw) -> bytes:
    """Signed-webhook bodies: events whose fields are right, missing or of any JSON type, and any JSON at all."""
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(json_values)).encode()
    event = webhook_event(str(uuid.uuid4()), "completed")
    event["type"] = draw(event_types)
    for name in ("id", "created", "data"):
        choice = draw(st.sampled_from(["keep", "drop", "replace"]))
        if choice == "drop":
            del event[name]
        elif choice == "replace":
            event[name] = draw(json_values)
    if isinstance(event.get("data"), dict):
        for name in ("payment_id", "provider_ref", "amount", "reason"):
            if draw(st.booleans()):
                event["data"][name] = draw(json_values)
    return json.dumps(event).encode()


def test_fuzz_signed_webhook_answers_200_400_or_404_with_problem_details(security_stack):
    base_url = security_stack.stack.base_url
    answers: dict[int, int] = {}

    @settings(max_examples=WEBHOOK_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(body=webhook_bodies())
    def fuzz(body: bytes):
        response = post_webhook(base_url, raw=body)
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        assert response.status_code in (200, 400, 404), (response.status_code, body[:300], response.text[:300])
        if response.status_code >= 400:
            assert response.headers["Content-Type"].startswith(PROBLEM_JSON), response.headers
            assert response.headers.get("X-Correlation-Id")
            problem = response.json()
            assert problem["status"] == response.status_code and problem["type"] and problem["title"], problem

    fuzz()

    assert answers.get(400) and answers.get(404), answers  # both the malformed and the well-formed were reached
