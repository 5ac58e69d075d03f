"""The payment provider's webhook under attack: stale, future, forged and malformed signatures (401), signed bodies
that are not payment events (400), and replays, which are answered 200 but never applied twice.

Signature and body checks run on the session stack against payment ids that do not exist: the signature is judged
before the body, so a 401 or 400 never depends on the payment. Replays need a payment in a state only the test moves,
so they run on the security stack, whose provider sends no webhooks of its own (see conftest.py)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.integration.helpers import (LOCAL_WEBHOOK_SECRET, assert_json, post_webhook, webhook_event,
                                       webhook_signature)
from tests.integration.security.support import INJECTIONS, assert_error_contract

TOLERANCE_SECONDS = 300


@pytest.fixture
def event() -> dict:
    """A well-formed event for a payment that does not exist (a correctly signed one is answered 404)."""
    return webhook_event(str(uuid.uuid4()), "completed")


def raw(event: dict) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


def test_post_correctly_signed_event_for_unknown_payment_returns_404(stack, event):
    # The baseline: everything below differs from this request in one way only.
    response = post_webhook(stack.base_url, event)

    problem = assert_error_contract(response)
    assert response.status_code == 404, problem


# ---------------------------------------------------------------- signatures

@pytest.mark.parametrize("age", [TOLERANCE_SECONDS + 1, 3600, -(TOLERANCE_SECONDS + 1)],
                         ids=["301s-old", "1h-old", "301s-in-future"])
def test_post_webhook_with_timestamp_outside_tolerance_returns_401(stack, event, age):
    response = post_webhook(stack.base_url, event, timestamp=int(time.time()) - age)

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_post_webhook_with_signature_over_another_body_returns_401(stack, event):
    other = raw({**event, "type": "payment.failed"})

    response = post_webhook(stack.base_url, event, signature=webhook_signature(other))

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_post_webhook_signed_with_another_secret_returns_401(stack, event):
    response = post_webhook(stack.base_url, event, signature=webhook_signature(raw(event), secret="whsec_attacker"))

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_post_webhook_signed_with_empty_secret_returns_401(stack, event):
    response = post_webhook(stack.base_url, event, signature=webhook_signature(raw(event), secret=""))

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def malformed_signatures(body: bytes) -> dict[str, str | None]:
    now = int(time.time())
    good = webhook_signature(body, timestamp=now)
    digest = good.split("v1=", 1)[1]
    return {
        "no-header": None,
        "empty": "",
        "v1-missing": f"t={now}",
        "v1-empty": f"t={now},v1=",
        "t-missing": f"v1={digest}",
        "t-not-a-number": f"t=now,v1={digest}",
        "several-v1-none-valid": f"t={now},v1={'0' * 64},v1={'f' * 64}",
        "v1-not-hex": f"t={now},v1={'zz' * 32}",
        "v1-upper-case-hex": f"t={now},v1={digest.upper()}",
        "v1-truncated": f"t={now},v1={digest[:32]}",
        "v1-non-ascii": f"t={now},v1=" + "é" * 64,
        "v0-scheme-only": good.replace("v1=", "v0="),
        "stale-t-first": f"t={now - 3600},{good}",
        "garbage": "not a signature at all",
    }


SIGNATURE_KINDS = list(malformed_signatures(b"{}"))


@pytest.mark.parametrize("kind", SIGNATURE_KINDS)
def test_post_webhook_with_malformed_signature_header_returns_401(stack, event, kind):
    body = raw(event)
    signature = malformed_signatures(body)[kind]
    if signature is not None:  # a header value goes out as latin-1: "é" as one byte, as a client would send it
        signature = signature.encode("utf-8").decode("latin-1")

    response = post_webhook(stack.base_url, raw=body, signature=signature)

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_post_webhook_with_valid_v1_among_several_passes_the_signature_check(stack, event):
    # Stripe's scheme, which the contract follows: a header may carry several v1 values (secret rotation), and one
    # valid value is enough. Wrong extra values cost an attacker nothing: each needs the secret to be right.
    body = raw(event)

    response = post_webhook(stack.base_url, raw=body, signature=f"{webhook_signature(body)},v1={'0' * 64}")

    problem = assert_error_contract(response)
    assert response.status_code == 404, problem  # past the signature: the payment is unknown


# ---------------------------------------------------------------- signed bodies that are not payment events

NOT_EVENTS = {"array": b"[]", "array-of-event": None, "string": b'"payment.completed"', "number": b"42",
              "null": b"null", "true": b"true", "empty-object": b"{}", "malformed": b'{"id": "evt_1", ',
              "not-utf8": b"\xff\xfe{}", "empty": b"", "nested-30000-deep": b'{"data": ' + b"[" * 30000 + b"]" * 30000
              + b"}", "5000-digit-number": b'{"created": ' + b"9" * 5000 + b"}"}


@pytest.mark.parametrize("kind", NOT_EVENTS)
def test_post_signed_webhook_whose_body_is_not_an_event_object_returns_400(stack, event, kind):
    body = NOT_EVENTS[kind] if NOT_EVENTS[kind] is not None else json.dumps([event]).encode()

    response = post_webhook(stack.base_url, raw=body)

    problem = assert_error_contract(response)
    assert response.status_code == 400, problem


WRONG_FIELDS = {
    "id-number": ("id", 123), "id-object": ("id", {"$gt": ""}), "id-null": ("id", None),
    "id-injection": ("id", "evt_' OR 1=1 --"), "id-10k-chars": ("id", "evt_" + "x" * 10_000),
    "type-unknown": ("type", "payment.refunded"), "type-array": ("type", ["payment.completed"]),
    "created-text": ("created", "yesterday"), "created-null": ("created", None),
    "data-array": ("data", [{"payment_id": "p"}]), "data-string": ("data", "p"), "data-null": ("data", None),
    "payment-id-object": ("data.payment_id", {"$gt": ""}), "payment-id-null": ("data.payment_id", None),
    "payment-id-65-chars": ("data.payment_id", "p" * 65), "payment-id-empty": ("data.payment_id", ""),
    "provider-ref-object": ("data.provider_ref", {"$ne": None}), "reason-10k-chars": ("data.reason", "r" * 10_000),
    "payment-id-lone-surrogate": ("data.payment_id", "\ud800"),
}


def with_field(event: dict, path: str, value) -> dict:
    if path.startswith("data."):
        return {**event, "data": {**event["data"], path[len("data."):]: value}}
    return {**event, path: value}


@pytest.mark.parametrize("kind", WRONG_FIELDS)
def test_post_signed_webhook_with_invalid_field_returns_400(stack, event, kind):
    path, value = WRONG_FIELDS[kind]
    body = json.dumps(with_field(event, path, value)).encode()  # ensure_ascii: a lone surrogate goes as \ud800

    response = post_webhook(stack.base_url, raw=body)

    problem = assert_error_contract(response)
    assert response.status_code == 400, problem


@pytest.mark.parametrize("payload", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_post_signed_webhook_with_injection_string_as_payment_id_returns_404(stack, event, payload):
    response = post_webhook(stack.base_url, with_field(event, "data.payment_id", payload))

    problem = assert_error_contract(response)
    assert response.status_code == 404, problem


# ---------------------------------------------------------------- replays (security stack, provider without autopilot)

@pytest.fixture
def pending_payment(security_stack) -> dict:
    """A payment whose workflow created it at the provider and waits for its webhook: {id, provider_ref, pledge}."""
    campaign = security_stack.create_campaign()
    pledge = security_stack.create_pledge(campaign["id"], amount="25.00")
    shown = security_stack.wait_for_pledge(pledge["id"], lambda p: (p.get("payment") or {}).get("provider_ref"),
                                           timeout=30, what="the payment, authorized at the provider")
    return {"id": shown["payment"]["id"], "provider_ref": shown["payment"]["provider_ref"], "pledge": shown}


def deliver(security_stack, event: dict):
    """Signs `event` now (a fresh signature) and POSTs it; returns the 200 body."""
    return assert_json(post_webhook(security_stack.stack.base_url, event), 200)


@pytest.fixture
def applied_event(security_stack, pending_payment) -> dict:
    """An `authorized` event the payment has applied."""
    event = webhook_event(pending_payment["id"], "authorized", provider_ref=pending_payment["provider_ref"])
    assert deliver(security_stack, event) == {"received": True, "applied": True}
    return event


def test_replay_applied_event_with_fresh_signature_returns_200_not_applied(security_stack, applied_event):
    replayed = {**applied_event, "created": int(time.time())}

    assert deliver(security_stack, replayed) == {"received": True, "applied": False}


def applications(security_stack, payment_id: str, event_id: str) -> int:
    """How many transitions of the payment's history the event caused."""
    return [entry["event_id"] for entry in security_stack.payment(payment_id)["history"]].count(event_id)


def test_replay_applied_event_with_fresh_signature_adds_no_transition(security_stack, pending_payment,
                                                                      applied_event):
    deliver(security_stack, {**applied_event, "created": int(time.time())})

    assert applications(security_stack, pending_payment["id"], applied_event["id"]) == 1


def test_reuse_applied_event_id_for_later_state_is_not_applied(security_stack, pending_payment, applied_event):
    # Same event id, new content, fresh valid signature: an event id is applied at most once (invariant 2), even when
    # its new content would move the payment forward.
    reused = webhook_event(pending_payment["id"], "completed", event_id=applied_event["id"],
                           provider_ref=pending_payment["provider_ref"])

    assert deliver(security_stack, reused) == {"received": True, "applied": False}
    assert security_stack.payment(pending_payment["id"])["state"] != "COMPLETED"
    assert applications(security_stack, pending_payment["id"], applied_event["id"]) == 1


def test_replay_signed_request_captured_verbatim_after_tolerance_returns_401(security_stack, pending_payment):
    # What an eavesdropper could resend: the exact bytes and header of a request signed 301 s ago.
    event = webhook_event(pending_payment["id"], "completed", provider_ref=pending_payment["provider_ref"])
    body = raw(event)
    header = webhook_signature(body, secret=LOCAL_WEBHOOK_SECRET, timestamp=int(time.time()) - TOLERANCE_SECONDS - 1)

    response = post_webhook(security_stack.stack.base_url, raw=body, signature=header)

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem
    assert applications(security_stack, pending_payment["id"], event["id"]) == 0
