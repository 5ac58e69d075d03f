"""Hostile request bodies on every route: too large, not JSON, not UTF-8, the wrong media type, the wrong shape, the
wrong types, unicode edge cases and injection strings. Each gets the contract's error (RFC 9457 problem+json with
X-Correlation-Id), never a 500; what a free-text field accepts is stored and shown back exactly as sent."""

from __future__ import annotations

import json

import pytest

from tests.integration.helpers import assert_json, unique_email
from tests.integration.security.support import (BODY_ROUTES, CONSTRAINED, FREE_TEXT, INJECTIONS, ROUTE, ROUTES,
                                                STRING_FIELDS, assert_error_contract, raw_json, valid_body,
                                                wrong_values)

MAX_BODY_BYTES = 64 * 1024
GATEWAY_PAYLOAD_LIMIT = 10 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
JSON_ROUTES = BODY_ROUTES  # not the webhook, which checks its signature first: see test_webhook_security.py


def route_ids(route) -> str:
    return route.name


def field_ids(pair) -> str:
    return f"{pair[0]}-{pair[1]}"


def padded_body(size: int) -> bytes:
    """A JSON object of exactly `size` bytes."""
    shell = b'{"padding": ""}'
    return shell[:-2] + b"a" * (size - len(shell)) + shell[-2:]


# ---------------------------------------------------------------- size

@pytest.mark.parametrize("route", ROUTES, ids=route_ids)
def test_send_body_over_64_kib_returns_413(call, route):
    response = call(route, data=padded_body(MAX_BODY_BYTES + 1), headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 413, problem


def test_send_body_of_exactly_64_kib_is_judged_on_its_content(call):
    response = call(ROUTE["POST /auth/login"], data=padded_body(MAX_BODY_BYTES), headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem  # an unknown field and two missing ones, not "too large"


def test_send_body_over_gateway_payload_limit_returns_413(call):
    response = call(ROUTE["POST /auth/register"], data=padded_body(GATEWAY_PAYLOAD_LIMIT + 1), headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 413, problem


# ---------------------------------------------------------------- not JSON, not UTF-8, not an object

MALFORMED = {
    "truncated": b'{"email": "a@example.com", ',
    "single-quotes": b"{'email': 'a@example.com'}",
    "trailing-comma": b'{"email": "a@example.com",}',
    "bare-word": b"hello",
    "unclosed-string": b'{"email": "a@example.com}',
    "utf8-bom": b'\xef\xbb\xbf{"email": "a@example.com"}',
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_ids)
def test_send_malformed_json_returns_400(call, route, raw):
    response = call(route, data=raw, headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 400, problem


NOT_UTF8 = {"latin-1": '{"name": "Zoë"}'.encode("latin-1"), "utf-16": '{"name": "Zoe"}'.encode("utf-16"),
            "invalid-bytes": b"\xff\xfe\xfd"}


@pytest.mark.parametrize("raw", NOT_UTF8.values(), ids=NOT_UTF8.keys())
@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_ids)
def test_send_body_that_is_not_utf8_returns_400(call, route, raw):
    response = call(route, data=raw, headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 400, problem


@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_ids)
def test_send_json_nested_30000_deep_returns_400(call, route):
    raw = f'{{"{route.fields[0]}": {"[" * 30000}{"]" * 30000}}}'.encode()

    response = call(route, data=raw, headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 400, problem


@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_ids)
def test_send_json_with_5000_digit_number_returns_400(call, route):
    raw = f'{{"{route.fields[0]}": {"9" * 5000}}}'.encode()

    response = call(route, data=raw, headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 400, problem


NOT_OBJECTS = {"array": b"[]", "array-of-object": b'[{"email": "a@example.com"}]', "string": b'"text"',
               "number": b"42", "null": b"null", "true": b"true"}


@pytest.mark.parametrize("raw", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_ids)
def test_send_json_that_is_not_an_object_returns_422(call, route, raw):
    response = call(route, data=raw, headers=JSON)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


WRONG_MEDIA_TYPES = ["text/plain", "application/xml", "application/x-www-form-urlencoded",
                     "multipart/form-data; boundary=x"]


@pytest.mark.parametrize("content_type", WRONG_MEDIA_TYPES, ids=lambda c: c.split(";")[0])
@pytest.mark.parametrize("route", BODY_ROUTES + (ROUTE["POST /webhooks/payments"],), ids=route_ids)
def test_send_body_with_wrong_content_type_returns_415(call, route, content_type):
    body = json.dumps(valid_body(route) if route.fields else {}).encode()

    response = call(route, data=body, headers={"Content-Type": content_type})

    problem = assert_error_contract(response)
    assert response.status_code == 415, problem


# ---------------------------------------------------------------- missing fields, wrong types

@pytest.mark.parametrize("route", JSON_ROUTES, ids=route_ids)
def test_send_empty_object_returns_422(call, route):
    response = call(route, json={})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


MISSING = [(route.name, name) for route in JSON_ROUTES for name in route.required]


@pytest.mark.parametrize(("route_name", "name"), MISSING, ids=map(field_ids, MISSING))
def test_send_body_without_required_field_returns_422(call, route_name, name):
    route = ROUTE[route_name]
    body = {key: value for key, value in valid_body(route).items() if key != name}

    response = call(route, json=body)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


WRONG = [(route.name, name, kind, value) for route in JSON_ROUTES for name in route.fields
         for kind, value in wrong_values(route.name, name).items()]


@pytest.mark.parametrize(("route_name", "name", "kind", "value"), WRONG,
                         ids=[f"{r}-{n}-{k}" for r, n, k, _ in WRONG])
def test_send_field_of_wrong_json_type_returns_422(call, route_name, name, kind, value):
    route = ROUTE[route_name]

    response = call(route, json={**valid_body(route), name: value})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


# ---------------------------------------------------------------- unicode edge cases in every string field

def send_string(call, route_name: str, name: str, escaped: str):
    """Sends the route's valid body with `name` set to the JSON string literal `escaped` (escapes kept as written)."""
    route = ROUTE[route_name]
    return call(route, data=raw_json(valid_body(route), name, escaped), headers=JSON)


@pytest.mark.parametrize("escaped", ["\\ud800", "a\\udfffb", "\\udc00\\ud800"], ids=["high", "low", "reversed-pair"])
@pytest.mark.parametrize(("route_name", "name"), STRING_FIELDS, ids=map(field_ids, STRING_FIELDS))
def test_send_lone_surrogate_in_string_field_returns_422(call, route_name, name, escaped):
    response = send_string(call, route_name, name, escaped)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


@pytest.mark.parametrize(("route_name", "name"), STRING_FIELDS, ids=map(field_ids, STRING_FIELDS))
def test_send_10k_char_string_in_string_field_returns_422(call, route_name, name):
    response = send_string(call, route_name, name, "x" * 10_000)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


NUL_REFUSED = FREE_TEXT + CONSTRAINED  # a password may hold any character: see the password tests below


@pytest.mark.parametrize("escaped", ["\\u0000", "Dana\\u0000Donor"], ids=["alone", "inside"])
@pytest.mark.parametrize(("route_name", "name"), NUL_REFUSED, ids=map(field_ids, NUL_REFUSED))
def test_send_nul_in_text_field_returns_422(call, route_name, name, escaped):
    response = send_string(call, route_name, name, escaped)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


@pytest.mark.parametrize(("route_name", "name"), CONSTRAINED, ids=map(field_ids, CONSTRAINED))
def test_send_rtl_override_in_constrained_field_returns_422(call, route_name, name):
    response = send_string(call, route_name, name, "\\u202egro.elpmaxe@evil")

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def accepted_field(response, route_name: str, name: str):
    """The value of `name` in a created/updated entity: checks the 2xx answer first."""
    body = assert_json(response, 200 if route_name.startswith("PATCH") else 201)
    return body["user"][name] if route_name == "POST /auth/register" else body[name]


@pytest.mark.parametrize(("route_name", "name"), FREE_TEXT, ids=map(field_ids, FREE_TEXT))
def test_send_rtl_override_in_free_text_field_stores_it_verbatim(call, route_name, name):
    response = send_string(call, route_name, name, "\\u202eevil.exe")

    assert accepted_field(response, route_name, name) == "\u202eevil.exe"


# ---------------------------------------------------------------- injection strings in every string field

@pytest.mark.parametrize("payload", INJECTIONS.values(), ids=INJECTIONS.keys())
@pytest.mark.parametrize(("route_name", "name"), FREE_TEXT, ids=map(field_ids, FREE_TEXT))
def test_send_injection_string_in_free_text_field_stores_it_verbatim(call, route_name, name, payload):
    route = ROUTE[route_name]

    response = call(route, json={**valid_body(route), name: payload})

    assert accepted_field(response, route_name, name) == payload


@pytest.mark.parametrize("payload", INJECTIONS.values(), ids=INJECTIONS.keys())
@pytest.mark.parametrize(("route_name", "name"), CONSTRAINED, ids=map(field_ids, CONSTRAINED))
def test_send_injection_string_in_constrained_field_returns_422(call, route_name, name, payload):
    route = ROUTE[route_name]

    response = call(route, json={**valid_body(route), name: payload})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def test_read_campaign_created_with_injection_strings_returns_them_verbatim(api, admin_token):
    sent = {"title": INJECTIONS["sql"] + INJECTIONS["script"], "description": " ".join(INJECTIONS.values()),
            "goal_amount": "10.00"}
    created = assert_json(api.post("/campaigns", token=admin_token, json=sent), 201)

    shown = assert_json(api.get(f"/campaigns/{created['id']}"), 200)

    assert (shown["title"], shown["description"]) == (sent["title"], sent["description"])


# ---------------------------------------------------------------- passwords: opaque, every character counts

UNUSUAL_PASSWORDS = {**{name: f"{payload}#Pw-1234" for name, payload in INJECTIONS.items()},
                     "nul": "correct\x00horse", "rtl-override": "\u202ecorrect horse", "emoji": "😀 correct horse",
                     "all-spaces": " " * 12}


@pytest.mark.parametrize("password", UNUSUAL_PASSWORDS.values(), ids=UNUSUAL_PASSWORDS.keys())
def test_register_with_unusual_password_logs_in_with_exactly_it(api, password):
    email = unique_email("pw")
    assert_json(api.post("/auth/register", json={"email": email, "password": password, "name": "Pat"}), 201)

    response = api.post("/auth/login", json={"email": email, "password": password})

    assert assert_json(response, 200)["user"]["email"] == email


def test_login_with_password_differing_only_after_nul_returns_401(api):
    # A hash that stopped at the NUL (C strings) would let "correct\0anything" in. One failed login: the session's
    # per-client budget (20 per 15 minutes, test_auth.py uses about 13) is spent sparingly here.
    email = unique_email("nul")
    assert_json(api.post("/auth/register", json={"email": email, "password": "correct\x00horse", "name": "Pat"}), 201)

    response = api.post("/auth/login", json={"email": email, "password": "correct\x00battery"})

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_login_with_sql_injection_as_password_returns_401(api, donor):
    response = api.post("/auth/login", json={"email": donor["email"], "password": INJECTIONS["sql"]})

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


def test_login_with_operator_object_as_password_returns_422(api, donor):
    response = api.post("/auth/login", json={"email": donor["email"], "password": {"$gt": ""}})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def test_register_with_unknown_role_field_returns_422_and_creates_no_admin(api):
    email = unique_email("role")

    response = api.post("/auth/register", json={"email": email, "password": "correct horse battery",
                                                "name": "Mallory", "role": "ADMIN"})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def test_register_with_same_email_in_other_case_and_padding_returns_409(api, donor):
    response = api.post("/auth/register", json={"email": f"  {donor['email'].upper()} ",
                                                "password": "correct horse battery", "name": "Twin"})

    problem = assert_error_contract(response)
    assert response.status_code == 409, problem
