"""The security suite's view of the API: every route, its access rule and body, and the hostile inputs.

The route table is written out by hand (test_routes.py checks it against the template's routes as the stack serves
them at /openapi.json), so every test that says "every route" covers a route added later only once it is added here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

import requests

from tests.integration.helpers import PROBLEM_JSON, assert_correlated, media_type

PUBLIC, BEARER, OPTIONAL, SIGNED = "public", "bearer", "optional", "signed"  # who may call a route


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    access: str  # PUBLIC, BEARER (behind the authorizer), OPTIONAL (guests too; a bearer token must be valid), SIGNED
    fields: tuple[str, ...] = ()  # the JSON body's fields; empty: the route takes no JSON body
    required: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def has_id(self) -> bool:
        return "{id}" in self.path


ROUTES = (
    Route("POST", "/auth/register", PUBLIC, ("email", "password", "name"), ("email", "password", "name")),
    Route("POST", "/auth/login", PUBLIC, ("email", "password"), ("email", "password")),
    Route("GET", "/users/me", BEARER),
    Route("PUT", "/users/{id}/role", BEARER, ("role",), ("role",)),
    Route("POST", "/campaigns", BEARER, ("title", "description", "goal_amount", "currency"),
          ("title", "description", "goal_amount")),
    Route("GET", "/campaigns", PUBLIC),
    Route("GET", "/campaigns/{id}", PUBLIC),
    Route("PATCH", "/campaigns/{id}", BEARER, ("title", "description", "goal_amount", "status")),
    Route("POST", "/campaigns/{id}/pledges", OPTIONAL,
          ("amount", "donor_email", "donor_name", "message", "payment_method"), ("amount", "donor_email")),
    Route("GET", "/campaigns/{id}/pledges", BEARER),
    Route("GET", "/campaigns/{id}/totals", PUBLIC),
    Route("GET", "/pledges/{id}", OPTIONAL),
    Route("GET", "/users/me/pledges", BEARER),
    Route("POST", "/donations/lookup", PUBLIC, ("email",), ("email",)),
    Route("GET", "/donations", PUBLIC),
    Route("POST", "/webhooks/payments", SIGNED),
    Route("GET", "/payments/{id}", BEARER),
)
ROUTE = {route.name: route for route in ROUTES}
BODY_ROUTES = tuple(route for route in ROUTES if route.fields)
ID_ROUTES = tuple(route for route in ROUTES if route.has_id)
TOKEN_ROUTES = tuple(route for route in ROUTES if route.access in (BEARER, OPTIONAL))
ADMIN_ROUTES = tuple(ROUTE[name] for name in ("PUT /users/{id}/role", "POST /campaigns", "GET /payments/{id}",
                                              "GET /campaigns/{id}/pledges", "PATCH /campaigns/{id}"))

# Fields that take free text: anything printable is data, stored and shown back exactly as sent.
FREE_TEXT = (("POST /auth/register", "name"), ("POST /campaigns", "title"), ("POST /campaigns", "description"),
             ("PATCH /campaigns/{id}", "title"), ("PATCH /campaigns/{id}", "description"),
             ("POST /campaigns/{id}/pledges", "donor_name"), ("POST /campaigns/{id}/pledges", "message"))
# Fields with a shape (emails, enums, money, currency codes, payment method tokens): anything else is 422.
CONSTRAINED = (("POST /auth/register", "email"), ("POST /auth/login", "email"), ("PUT /users/{id}/role", "role"),
               ("POST /campaigns", "goal_amount"), ("POST /campaigns", "currency"),
               ("PATCH /campaigns/{id}", "goal_amount"), ("PATCH /campaigns/{id}", "status"),
               ("POST /campaigns/{id}/pledges", "amount"), ("POST /campaigns/{id}/pledges", "donor_email"),
               ("POST /campaigns/{id}/pledges", "payment_method"), ("POST /donations/lookup", "email"))
# Every string field of every body. Passwords are opaque (any character counts), so they are tested on their own.
PASSWORDS = (("POST /auth/register", "password"), ("POST /auth/login", "password"))
STRING_FIELDS = FREE_TEXT + CONSTRAINED + PASSWORDS
MONEY_FIELDS = {"goal_amount", "amount"}
NULLABLE = {("PATCH /campaigns/{id}", name) for name in ("title", "description", "goal_amount", "status")} | {
    ("POST /campaigns/{id}/pledges", "donor_name"), ("POST /campaigns/{id}/pledges", "message")}

INJECTIONS = {
    "sql": "' OR 1=1 --",
    "nosql": '{"$gt": ""}',
    "jndi": "${jndi:ldap://x}",
    "script": "<script>alert(1)</script>",
    "traversal": "../../etc/passwd",
    "percent-nul": "%00",
}
NON_UUIDS = {"word": "not-a-uuid", "number": "123", "64-zeros": "0" * 64, "accent": "é", "emoji": "😀",
             "encoded-dot-dot": "..", "space": " ", "nul": "\x00", "rtl-override": "\u202eevil"}
# Wrong JSON types for a field: strings for numbers, objects for strings, arrays for objects, null, booleans.
WRONG_TYPES = {"number": 123, "object": {"$gt": ""}, "array": ["x"], "null": None, "bool": True}
WRONG_MONEY = {"string": "lots", "object": {"$gt": ""}, "array": [25], "null": None, "bool": True}


def wrong_values(route_name: str, name: str) -> dict[str, object]:
    """The values of the wrong JSON type for one field (null left out where the field may be null)."""
    values = dict(WRONG_MONEY if name in MONEY_FIELDS else WRONG_TYPES)
    if (route_name, name) in NULLABLE:
        del values["null"]
    return values


def valid_body(route: Route) -> dict:
    """A body the route accepts (nothing here is sent as is to a route whose success would change shared state)."""
    unique = uuid.uuid4().hex[:12]
    return {
        "POST /auth/register": {"email": f"sec-{unique}@example.com", "password": "correct horse battery",
                                "name": "Sam Secure"},
        "POST /auth/login": {"email": f"nobody-{unique}@example.com", "password": "correct horse battery"},
        "PUT /users/{id}/role": {"role": "DONOR"},
        "POST /campaigns": {"title": f"Security {unique}", "description": "Hostile input, kept verbatim.",
                            "goal_amount": "100.00", "currency": "USD"},
        "PATCH /campaigns/{id}": {"title": f"Renamed {unique}"},
        "POST /campaigns/{id}/pledges": {"amount": "5.00", "donor_email": f"guest-{unique}@example.com",
                                         "donor_name": "Gus Guest", "message": "Good luck!",
                                         "payment_method": "pm_card_visa"},
        "POST /donations/lookup": {"email": f"lookup-{unique}@example.com"},
    }[route.name]


def url_path(route: Route, path_id: str) -> str:
    """The route's path with `{id}` filled, every character percent-encoded (dots too: a client would otherwise
    resolve `..` itself and never send it)."""
    return route.path.replace("{id}", quote(path_id, safe="").replace(".", "%2E"))


def raw_json(body: dict, name: str, escaped_string: str) -> bytes:
    """`body` as JSON with `name` set to a JSON string literal written as is (e.g. the escape `\\ud800`, which
    json.dumps cannot produce from a Python string)."""
    text = json.dumps({**body, name: "__PLACEHOLDER__"})
    return text.replace('"__PLACEHOLDER__"', f'"{escaped_string}"').encode()


def assert_error_contract(response: requests.Response) -> dict:
    """An error answer as the contract wants every one: RFC 9457 problem+json with type, title, status (the
    response's own) and detail, and an X-Correlation-Id. Returns the problem."""
    assert response.status_code >= 400, f"not an error: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, f"server error {response.status_code}: {response.text[:500]}"
    assert media_type(response) == PROBLEM_JSON, (response.headers.get("Content-Type"), response.text[:300])
    assert_correlated(response)
    body = response.json()
    assert body["status"] == response.status_code, body
    assert isinstance(body["type"], str) and body["type"], body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str), body
    return body
