"""Hostile path and query parameters on every route that takes them: injection strings, ids that are not UUIDs,
huge limits, garbage cursors and oversized values get the contract's error, never a 500."""

from __future__ import annotations

import base64
import json
import re
import uuid

import pytest

from tests.integration.helpers import assert_json
from tests.integration.security.support import (ID_ROUTES, INJECTIONS, NON_UUIDS, ROUTE, assert_error_contract,
                                                valid_body)


def route_ids(route) -> str:
    return route.name


def id_route_request(call, route, path_id: str):
    """`route` with `path_id`, and a valid body where it takes one, so nothing but the id can be refused."""
    return call(route, path_id=path_id, **({"json": valid_body(route)} if route.fields else {}))


# ---------------------------------------------------------------- path ids

@pytest.mark.parametrize("path_id", [*INJECTIONS.values(), *NON_UUIDS.values()],
                         ids=[*INJECTIONS.keys(), *NON_UUIDS.keys()])
@pytest.mark.parametrize("route", ID_ROUTES, ids=route_ids)
def test_request_with_hostile_path_id_returns_404(call, route, path_id):
    response = id_route_request(call, route, path_id)

    problem = assert_error_contract(response)
    assert response.status_code == 404, problem


@pytest.mark.parametrize("route", ID_ROUTES, ids=route_ids)
def test_request_with_path_id_over_64_chars_returns_422(call, route):
    response = id_route_request(call, route, "a" * 65)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


# ---------------------------------------------------------------- query parameters

LISTINGS = {  # route -> its query parameters that are validated (limit, cursor, status)
    "GET /campaigns": ("limit", "cursor", "status"),
    "GET /campaigns/{id}/pledges": ("limit", "cursor", "status"),
    "GET /users/me/pledges": ("limit", "cursor"),
    "GET /donations": ("limit", "cursor"),
}
LISTING_PARAMETERS = [(name, parameter) for name, parameters in LISTINGS.items() for parameter in parameters]


@pytest.fixture
def listing(call, package_donor, lookup_token):
    """`listing(route_name, **params)`: a listing request that would otherwise succeed (a donor's own history, the
    admin's campaign, a real lookup token)."""

    def send(route_name: str, **params):
        route = ROUTE[route_name]
        if route_name == "GET /donations":
            params = {"token": lookup_token, **params}
        token = package_donor["token"] if route_name == "GET /users/me/pledges" else "admin"
        return call(route, token=token, params=params)

    return send


@pytest.mark.parametrize("route_name", LISTINGS)
def test_list_without_hostile_parameters_returns_200(listing, route_name):
    assert_json(listing(route_name), 200)


@pytest.mark.parametrize("payload", INJECTIONS.values(), ids=INJECTIONS.keys())
@pytest.mark.parametrize(("route_name", "parameter"), LISTING_PARAMETERS, ids=[f"{r}-{p}" for r, p in
                                                                              LISTING_PARAMETERS])
def test_list_with_injection_string_in_query_returns_422(listing, route_name, parameter, payload):
    response = listing(route_name, **{parameter: payload})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


HUGE_LIMITS = {"10^30": "1" + "0" * 30, "101": "101", "zero": "0", "negative": "-1", "fraction": "1.5",
               "exponent": "1e3", "empty": "", "nan": "NaN", "hex": "0x10"}


@pytest.mark.parametrize("limit", HUGE_LIMITS.values(), ids=HUGE_LIMITS.keys())
@pytest.mark.parametrize("route_name", LISTINGS)
def test_list_with_out_of_range_limit_returns_422(listing, route_name, limit):
    response = listing(route_name, limit=limit)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


GARBAGE_CURSORS = {"not-base64": "!!!", "base64-of-text": base64.urlsafe_b64encode(b"hello").decode(),
                   "json-array": b64([1, 2]), "json-number": b64(7), "foreign-keys": b64({"pk": "USER#admin"}),
                   "operator-object": b64({"pk": {"$gt": ""}}), "deep-json": b64({"a": [[[[[[[[[[]]]]]]]]]]}),
                   "1100-chars": "A" * 1100, "nul": "\x00"}


@pytest.mark.parametrize("cursor", GARBAGE_CURSORS.values(), ids=GARBAGE_CURSORS.keys())
@pytest.mark.parametrize("route_name", LISTINGS)
def test_list_with_garbage_cursor_returns_422(listing, route_name, cursor):
    response = listing(route_name, cursor=cursor)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def test_list_campaign_pledges_with_cursor_of_another_listing_returns_422(listing, api, create_campaign):
    create_campaign(), create_campaign()
    other = assert_json(api.get("/campaigns", params={"limit": 1}), 200)["next_cursor"]
    assert other

    response = listing("GET /campaigns/{id}/pledges", cursor=other)

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


@pytest.mark.parametrize("payload", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_list_donations_with_injection_string_as_token_returns_401(api, payload):
    response = api.get("/donations", params={"token": payload})

    problem = assert_error_contract(response)
    assert response.status_code == 401, problem


@pytest.mark.parametrize("payload", INJECTIONS.values(), ids=INJECTIONS.keys())
def test_get_pledge_with_injection_string_as_receipt_token_returns_403(api, guest_pledge, payload):
    response = api.get(f"/pledges/{guest_pledge['id']}", params={"receipt_token": payload})

    problem = assert_error_contract(response)
    assert response.status_code == 403, problem


@pytest.mark.parametrize(("route_name", "parameter"), LISTING_PARAMETERS, ids=[f"{r}-{p}" for r, p in
                                                                              LISTING_PARAMETERS])
def test_list_with_6000_char_query_value_returns_422(listing, route_name, parameter):
    response = listing(route_name, **{parameter: "x" * 6000})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


def test_get_pledge_with_6000_char_receipt_token_returns_422(api, guest_pledge):
    response = api.get(f"/pledges/{guest_pledge['id']}", params={"receipt_token": "x" * 6000})

    problem = assert_error_contract(response)
    assert response.status_code == 422, problem


# A 10k-character value fits the local gateway's 16 KiB request line (API Gateway's own limit is 10,240 bytes), so the
# function judges it and answers the contract's problem, never aiohttp's own plain-text 400.

@pytest.mark.parametrize("route", [ROUTE["GET /campaigns"], ROUTE["GET /pledges/{id}"]], ids=route_ids)
def test_request_with_10k_char_query_value_is_refused_with_4xx(call, route):
    response = call(route, params={"cursor": "x" * 10_000})

    assert 400 <= response.status_code < 500, response.text[:300]


@pytest.mark.parametrize("route", [ROUTE["GET /campaigns/{id}"], ROUTE["GET /payments/{id}"]], ids=route_ids)
def test_request_with_10k_char_path_id_is_refused_with_4xx(call, route):
    response = call(route, path_id="x" * 10_000)

    assert 400 <= response.status_code < 500, response.text[:300]


def test_request_with_10k_char_query_value_returns_problem_json(call):
    assert_error_contract(call(ROUTE["GET /campaigns"], params={"cursor": "x" * 10_000}))


# A path whose decoded form holds a line break (%0A) still reaches the API (the catch-all matches any character), and
# the function answers 404 as for any unknown id, as on AWS.

@pytest.mark.parametrize("route", ID_ROUTES, ids=route_ids)
def test_request_with_line_break_in_path_id_is_refused_with_404(call, route):
    response = id_route_request(call, route, "line\nbreak")

    assert response.status_code == 404, response.text[:300]


def test_request_with_line_break_in_path_id_returns_problem_json(call):
    assert_error_contract(call(ROUTE["GET /campaigns/{id}"], path_id="line\nbreak"))


# ---------------------------------------------------------------- the X-Correlation-Id header

SAFE_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
HOSTILE_CORRELATION_IDS = {**INJECTIONS, "129-chars": "c" * 129, "latin-1": "clé".encode("latin-1"),
                           "crlf-lookalike": "id%0d%0aSet-Cookie:x=1"}


@pytest.mark.parametrize("correlation_id", HOSTILE_CORRELATION_IDS.values(), ids=HOSTILE_CORRELATION_IDS.keys())
@pytest.mark.parametrize("route", [ROUTE["GET /campaigns/{id}"], ROUTE["GET /users/me"]],
                         ids=["function-answer", "gateway-answer"])
def test_request_with_hostile_correlation_id_answers_with_a_safe_one(call, route, correlation_id):
    response = call(route, path_id=str(uuid.uuid4()), token=None, headers={"X-Correlation-Id": correlation_id})

    assert_error_contract(response)  # an unknown campaign (404), a missing token (401)
    assert SAFE_CORRELATION_ID.match(response.headers["X-Correlation-Id"]), response.headers["X-Correlation-Id"]
