"""Fixtures of the security suite: most tests use the session stack; a stack of its own (`security_stack`) serves the
schemathesis run and the webhook replays (see there why)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from tests.integration.conftest import StackClient, run_stack
from tests.integration.helpers import LOOKUP_TOKEN, assert_json, mail_to, new_idempotency_key, poll
from tests.integration.security.support import BEARER, Route, url_path

# The security stack: the sandbox provider sends no webhooks by itself (so a replayed event meets a payment that only
# the test moves), and a payment's workflow waits long enough for a test to finish with it (as test_payments_webhooks).
SECURITY_STACK_ENV = {
    "CAREFORALL_PROVIDER_AUTOPILOT": "0",
    "CAREFORALL_PARAMETER_OVERRIDES": "PaymentStepTimeoutSeconds=120 ReconcileIntervalSeconds=60",
}


@pytest.fixture(scope="package", autouse=True)
def hypothesis_home(tmp_path_factory):
    """Hypothesis (under schemathesis) keeps caches in `.hypothesis/` of the working directory: here, a temporary one,
    so a run leaves nothing in the work tree (no example database is used either: runs are derandomized)."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="package")
def security_stack(tmp_path_factory) -> StackClient:
    """A stack of its own for fuzzing: schemathesis fails logins and asks for donation lookups by the hundred,
    which would use up the session stack's per-client limits (20 failed logins, 30 lookups per 15 minutes) that
    the other modules' tests rely on, and creates campaigns and users by the dozen."""
    yield from run_stack(tmp_path_factory, "security", SECURITY_STACK_ENV)


@pytest.fixture(scope="package")
def target_campaign(api, admin_token) -> dict:
    """An ACTIVE campaign of the admin's, on the session stack, that hostile requests aim at."""
    response = api.post("/campaigns", token=admin_token, json={
        "title": f"Target {uuid.uuid4().hex[:8]}", "description": "Hostile requests aim here.",
        "goal_amount": "1000.00"})
    return assert_json(response, 201)


@pytest.fixture(scope="package")
def guest_pledge(api, target_campaign) -> dict:
    """A guest's pledge on the target campaign: the 201 body, with its receipt_token."""
    response = api.post(f"/campaigns/{target_campaign['id']}/pledges",
                        headers={"Idempotency-Key": new_idempotency_key()},
                        json={"amount": "7.00", "donor_email": f"guest-{uuid.uuid4().hex[:12]}@example.com"})
    return assert_json(response, 201)


@pytest.fixture(scope="package")
def package_donor(api) -> dict:
    """A donor registered once for the package (the conftest's `donor` is new for every test):
    {"user", "token", "email", "password"}."""
    email, password = f"sec-donor-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery"
    response = api.post("/auth/register", json={"email": email, "password": password, "name": "Dee Donor"})
    return {**assert_json(response, 201), "email": email, "password": password}


@pytest.fixture(scope="package")
def lookup_token(api, stack) -> str:
    """A real donation-lookup token (its own audience), from the link mailed to a fresh address: one lookup only."""
    email = f"lookup-{uuid.uuid4().hex[:12]}@example.com"
    assert_json(api.post("/donations/lookup", json={"email": email}), 202)
    mail = poll(lambda: mail_to(stack.base_url, email), timeout=10, what=f"the lookup mail to {email}")[-1]
    match = LOOKUP_TOKEN.search(mail["text"])
    assert match, mail["text"]
    return match.group(1)


@pytest.fixture(scope="package")
def call(api, admin_token, target_campaign):
    """`call(route, path_id=None, token="admin", headers=None, **requests_kwargs)`: one request to a route of the
    session stack. By default `{id}` is the target campaign (campaign routes) or a fresh UUID (never an existing
    user's: a role change must not land), BEARER routes carry the admin's token, and a pledge POST carries a fresh
    Idempotency-Key, so the request reaches what the test aims at."""

    def send(route: Route, *, path_id: str | None = None, token: str | None = "admin", headers: dict | None = None,
             **kwargs):
        if path_id is None:
            path_id = target_campaign["id"] if route.path.startswith("/campaigns/{id}") else str(uuid.uuid4())
        if token == "admin":
            token = admin_token if route.access == BEARER else None
        all_headers = {**({"Idempotency-Key": new_idempotency_key()}
                          if route.name == "POST /campaigns/{id}/pledges" else {}), **(headers or {})}
        return api.request(route.method, url_path(route, path_id), token=token, headers=all_headers, **kwargs)

    return send
