"""Integration tests: one real local stack per session, spoken to over HTTP only."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.integration.helpers import aws_client, poll
from tests.integration.stack import RunningStack, start_stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> RunningStack:
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    code = running.stop()
    assert code == 0, f"the stack did not stop cleanly ({code}):\n{running.log()[-3000:]}"


@pytest.fixture(scope="session")
def api(stack) -> "Api":
    return Api(stack.base_url)


@pytest.fixture(scope="session")
def admin_token(api, stack) -> str:
    response = api.post("/auth/login", json={"email": stack.admin_email, "password": stack.admin_password})
    assert response.status_code == 200, response.text
    return response.json()["token"]


@pytest.fixture
def donor(api) -> dict:
    """A freshly registered donor: {"user", "token", "email", "password"}."""
    email, password = f"donor-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery"
    response = api.post("/auth/register", json={"email": email, "password": password, "name": "Dana Donor"})
    assert response.status_code == 201, response.text
    return {**response.json(), "email": email, "password": password}


class Api:
    """A thin requests wrapper: JSON by default, bearer tokens by keyword."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method: str, path: str, token: str | None = None, headers: dict | None = None,
                **kwargs) -> requests.Response:
        all_headers = {**(headers or {})}
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base_url + path, headers=all_headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)


@pytest.fixture(scope="session")
def admin_user(api, admin_token) -> dict:
    """The seeded admin's user record, as GET /users/me returns it."""
    response = api.get("/users/me", token=admin_token)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def create_campaign(api, admin_token):
    """Creates a campaign as the admin; keyword arguments override the body. Returns the 201 body."""

    def create(**overrides) -> dict:
        body = {"title": f"Campaign {uuid.uuid4().hex[:8]}", "description": "Clean water for the village school.",
                "goal_amount": "1000.00", **overrides}
        response = api.post("/campaigns", token=admin_token, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return create


@pytest.fixture
def campaign(create_campaign) -> dict:
    """A fresh ACTIVE campaign owned by the admin."""
    return create_campaign()


@pytest.fixture
def create_pledge(api):
    """POSTs a pledge: `create_pledge(campaign_id, token=None, key=<new>, **body)`; returns the response.

    The body defaults to {"amount": "25.00"} plus a donor_email for guests; `key=None` sends no Idempotency-Key.
    """

    def create(campaign_id: str, *, token: str | None = None, key: str | None | bytes = "new", **body):
        if "amount" not in body:
            body["amount"] = "25.00"
        if token is None and "donor_email" not in body:
            body["donor_email"] = f"guest-{uuid.uuid4().hex[:12]}@example.com"
        body = {k: v for k, v in body.items() if v is not ...}  # `field=...` leaves a field out
        headers = {}
        if key is not None:
            headers["Idempotency-Key"] = f"key-{uuid.uuid4()}" if key == "new" else key
        return api.post(f"/campaigns/{campaign_id}/pledges", token=token, headers=headers, json=body)

    return create


@pytest.fixture(scope="session")
def aws(stack):
    """boto3 clients for the session stack's AWS endpoint: `aws("sqs")`. Only to inspect state."""
    return lambda service: aws_client(stack.aws_endpoint, service)


# ---------------------------------------------------------------- stacks of one module, and a client for any stack

class StackClient:
    """One running stack as a test sees it: its HTTP API as the seeded admin, its log, its AWS endpoint."""

    def __init__(self, stack: RunningStack, api: Api | None = None, admin_token: str | None = None) -> None:
        self.stack = stack
        self.api = api or Api(stack.base_url)
        if admin_token is None:
            response = self.api.post("/auth/login", json={"email": stack.admin_email,
                                                          "password": stack.admin_password})
            assert response.status_code == 200, response.text
            admin_token = response.json()["token"]
        self.admin_token = admin_token

    def aws(self, service: str):
        return aws_client(self.stack.aws_endpoint, service)

    def log(self) -> str:
        return self.stack.log()

    def create_campaign(self, **overrides) -> dict:
        body = {"title": f"Campaign {uuid.uuid4().hex[:8]}", "description": "Payments under test.",
                "goal_amount": "1000.00", **overrides}
        response = self.api.post("/campaigns", token=self.admin_token, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def create_pledge(self, campaign_id: str, *, token: str | None = None, **body) -> dict:
        """A new pledge (a guest's unless `token`); returns the 201 body."""
        body = {"amount": "25.00", **({} if token else {"donor_email": f"payer-{uuid.uuid4().hex[:12]}@example.com"}),
                **body}
        response = self.api.post(f"/campaigns/{campaign_id}/pledges", token=token, json=body,
                                 headers={"Idempotency-Key": f"key-{uuid.uuid4()}"})
        assert response.status_code == 201, response.text
        return response.json()

    def pledge(self, pledge_id: str) -> dict:
        response = self.api.get(f"/pledges/{pledge_id}", token=self.admin_token)
        assert response.status_code == 200, response.text
        return response.json()

    def payment(self, payment_id: str) -> dict:
        response = self.api.get(f"/payments/{payment_id}", token=self.admin_token)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_pledge(self, pledge_id: str, condition, *, timeout: float, what: str) -> dict:
        """Polls GET /pledges/{id} (as the admin) until `condition(pledge)` holds; returns that pledge."""
        last: dict = {}

        def probe():
            last.update(self.pledge(pledge_id))
            return dict(last) if condition(last) else None

        try:
            return poll(probe, timeout=timeout, interval=0.2, what=what)
        except AssertionError as error:
            raise AssertionError(f"{error}; pledge {pledge_id} last seen as {last}") from None

    def wait_for_payment_id(self, pledge_id: str, *, timeout: float = 30) -> str:
        """The pledge's payment id, once the workflow created the payment and the projector showed it."""
        pledge = self.wait_for_pledge(pledge_id, lambda p: p.get("payment") and p["payment"].get("id"),
                                      timeout=timeout, what="the pledge's payment")
        return pledge["payment"]["id"]


def run_stack(tmp_path_factory, name: str, env: dict[str, str]):
    """A stack of its own (own ports, log and stream checkpoints) for one module: use with `yield from`."""
    log_dir = tmp_path_factory.mktemp(name)
    running = start_stack(log_dir, {"CAREFORALL_STATE_DIR": str(log_dir / "state"), **env})
    try:
        yield StackClient(running)
    finally:
        code = running.stop()
    assert code == 0, f"the {name} stack did not stop cleanly ({code}):\n{running.log()[-3000:]}"


@pytest.fixture(scope="session")
def session_client(stack, api, admin_token) -> StackClient:
    """The session stack as a StackClient."""
    return StackClient(stack, api, admin_token)
