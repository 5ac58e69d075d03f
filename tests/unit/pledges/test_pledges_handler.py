"""The pledges Lambda handler end to end: API Gateway proxy events in, proxy results out, moto behind.

POST /campaigns/{id}/pledges and GET /pledges/{id} admit guests (no authorizer on the route): a bearer
token, when sent, is checked by the function itself. GET /users/me/pledges is behind the JWT authorizer,
so its events carry the authorizer's context.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from pledges_service.logic import PledgesService, pledge_id_for

KEY = "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b"
GUEST_BODY = {"amount": "25.00", "donor_email": "guest.donor@example.com", "donor_name": "Grace Hopper",
              "message": "For the wells!"}
PLEDGE_FIELDS = {"id", "campaign_id", "donor_id", "donor_email", "donor_name", "message", "amount", "currency",
                 "status", "payment", "created_at", "updated_at"}
LOOKUP_AUDIENCE = "careforall-donation-lookup"
WINDOW_START = float(2_000_000 * 900)  # the rate-limit clock sits at the start of a 15-minute window


@pytest.fixture
def ps(pledges_stack, monkeypatch):
    """The stack with the pledges function; its lookup rate limit runs on a frozen clock (no window edge)."""
    monkeypatch.setattr(pledges_stack.handler, "PledgesService",
                        functools.partial(PledgesService, clock=lambda: WINDOW_START))
    return pledges_stack


@pytest.fixture
def campaign(ps) -> str:
    return ps.put_campaign()


@pytest.fixture
def other_donor(ps) -> dict:
    return ps.stack.seed_user(email="other.donor@example.com")


def _drop_header(event: dict, name: str) -> dict:
    event["headers"].pop(name, None)
    event["multiValueHeaders"].pop(name, None)
    return event


def _create(ps, campaign_id, body=None, key=KEY, user=None, headers=None, **tweaks):
    all_headers = dict(headers or {})
    if key is not None:
        all_headers["Idempotency-Key"] = key
    if user is not None:
        all_headers["Authorization"] = ps.stack.bearer(user)
    if "raw_body" not in tweaks:
        tweaks["body"] = GUEST_BODY if body is None else body
    event = ps.stack.event("pledges_create", path=f"/campaigns/{campaign_id}/pledges",
                           path_params={"id": campaign_id}, headers=all_headers, **tweaks)
    if key is None:
        _drop_header(event, "Idempotency-Key")
    return ps.api(event)


def _created(ps, campaign_id, **kwargs) -> dict:
    result = _create(ps, campaign_id, **kwargs)
    assert result.status == 201, result.raw_body
    return result.json


def _get(ps, pledge_id, receipt_token=None, authorization=None, **tweaks):
    event = ps.stack.event("pledges_get", path=f"/pledges/{pledge_id}", path_params={"id": pledge_id},
                           query=None if receipt_token is None else {"receipt_token": receipt_token},
                           headers=None if authorization is None else {"Authorization": authorization}, **tweaks)
    return ps.api(event)


def _mine(ps, caller, **query):
    return ps.api(ps.stack.event("pledges_mine", caller=caller, query=query or None))


def _lookup(ps, email="guest.donor@example.com", **tweaks):
    if "raw_body" not in tweaks:
        tweaks["body"] = {"email": email}
    return ps.api(ps.stack.event("donations_lookup", **tweaks))


def _donations(ps, token, **query):
    return ps.api(ps.stack.event("donations_list", query={"token": token, **query}))


def _link_token(mail) -> str:
    link = next(word for word in mail.body.split() if word.startswith("http"))
    return parse_qs(urlsplit(urlsplit(link).fragment).query)["token"][0]  # <app>/#/donations?token=


def _lookup_token(ps, email="guest.donor@example.com", **overrides) -> str:
    """A lookup token signed with the stack's secret (overrides: clock, ttl_seconds, audience)."""
    options = {"ttl_seconds": 900, "audience": LOOKUP_AUDIENCE, **overrides}
    return ps.stack.tokens(**options).issue(user_id="guest", email=email, role="GUEST")


# ============================================================================ POST /campaigns/{id}/pledges
def test_create_guest_pledge_returns_201_pending_pledge(ps, campaign):
    result = _create(ps, campaign)

    assert result.status == 201
    assert result.header("Content-Type") == "application/json"
    pledge = result.json
    assert set(pledge) == PLEDGE_FIELDS | {"receipt_token"}
    assert pledge["id"] == pledge_id_for("guest", KEY)
    assert (pledge["campaign_id"], pledge["amount"], pledge["currency"], pledge["status"]) == (
        campaign, "25.00", "USD", "PENDING")
    assert (pledge["donor_id"], pledge["donor_email"], pledge["payment"]) == (None, "guest.donor@example.com", None)
    assert (pledge["donor_name"], pledge["message"]) == ("Grace Hopper", "For the wells!")
    assert pledge["created_at"] == pledge["updated_at"] and pledge["created_at"].endswith("Z")


def test_create_answers_location_of_the_pledge(ps, campaign):
    result = _create(ps, campaign)

    assert result.header("Location") == f"/pledges/{result.json['id']}"


def test_create_first_response_has_no_replayed_header(ps, campaign):
    assert _create(ps, campaign).header("Idempotent-Replayed") is None


def test_create_sends_correlation_id_back(ps, campaign):
    result = _create(ps, campaign, headers={"X-Correlation-Id": "checkout-42"})

    assert result.header("X-Correlation-Id") == "checkout-42"


def test_create_without_correlation_id_answers_with_request_id(ps, campaign):
    event = _drop_header(ps.stack.event("pledges_create", path=f"/campaigns/{campaign}/pledges",
                                        path_params={"id": campaign}), "X-Correlation-Id")

    result = ps.api(event)

    assert result.status == 201
    assert result.header("X-Correlation-Id") == event["requestContext"]["requestId"]


def test_create_stores_one_item_with_entity_and_index_keys(ps, campaign):
    pledge = _created(ps, campaign, body={**GUEST_BODY, "donor_email": "Guest.Donor@Example.com"})

    (item,) = ps.pledge_items()
    assert (item["pk"], item["entity"], item["id"]) == (f"PLEDGE#{pledge['id']}", "PLEDGE", pledge["id"])
    assert item["created_sort"] == f"{pledge['created_at']}#{pledge['id']}"
    assert item["donor_email_key"] == "guest.donor@example.com"
    assert (item["amount_cents"], item["scope"], item["response_status"]) == (2500, "guest", 201)
    assert "donor_id" not in item  # guests stay out of the by_donor index
    assert pledge["receipt_token"] not in json.dumps({k: v for k, v in item.items() if k != "response_body"})


def test_create_with_declined_test_card_is_accepted(ps, campaign):
    _created(ps, campaign, body={**GUEST_BODY, "payment_method": "pm_card_chargeDeclined"})

    assert ps.pledge_items()[0]["payment_method"] == "pm_card_chargeDeclined"


def test_create_on_campaign_made_by_campaigns_handler_takes_its_currency(ps):
    # GIVEN a campaign created through the campaigns function itself
    admin = ps.stack.seed_user(email="owner@careforall.local", role="ADMIN")
    created = ps.stack.campaigns_api(ps.stack.event("campaigns_create", caller=admin, body={
        "title": "Écoles", "description": "Books.", "goal_amount": "5000", "currency": "EUR"}))
    assert created.status == 201, created.raw_body

    # WHEN a guest pledges to it
    pledge = _created(ps, created.json["id"])

    # THEN the pledge is in the campaign's currency
    assert pledge["currency"] == "EUR"


def test_create_same_key_same_body_replays_first_response(ps, campaign):
    first = _create(ps, campaign)

    again = _create(ps, campaign)

    assert (again.status, again.raw_body) == (201, first.raw_body)
    assert again.header("Idempotent-Replayed") == "true"
    assert again.header("Location") == first.header("Location")
    assert again.header("X-Correlation-Id")
    assert len(ps.pledge_items()) == 1


def test_create_same_key_reformatted_body_replays(ps, campaign):
    first = _create(ps, campaign, raw_body=json.dumps(GUEST_BODY))

    again = _create(ps, campaign, raw_body='{"message":"For the wells!",\n "donor_name": "Grace Hopper",'
                                           ' "amount": 25, "donor_email": "GUEST.DONOR@example.com"}')

    assert (again.status, again.raw_body, again.header("Idempotent-Replayed")) == (201, first.raw_body, "true")


def test_create_lowercase_idempotency_key_header_is_read(ps, campaign):
    # HTTP/2 clients send header names in lower case
    event = _drop_header(ps.stack.event("pledges_create", path=f"/campaigns/{campaign}/pledges",
                                        path_params={"id": campaign}, headers={"idempotency-key": "lower-1"}),
                         "Idempotency-Key")

    result = ps.api(event)

    assert result.status == 201, result.raw_body
    assert result.json["id"] == pledge_id_for("guest", "lower-1")


def test_create_same_key_different_body_returns_422_key_reuse(ps, campaign):
    _create(ps, campaign)

    result = _create(ps, campaign, body={**GUEST_BODY, "amount": "26.00"})

    result.problem(422, "idempotency-key-reuse")
    assert len(ps.pledge_items()) == 1


def test_create_same_key_other_campaign_returns_422_key_reuse(ps, campaign):
    _create(ps, campaign)

    result = _create(ps, ps.put_campaign())

    result.problem(422, "idempotency-key-reuse")


def test_create_twenty_sequential_repeats_store_one_pledge(ps, campaign):
    # moto and the Powertools resolver are not thread-safe in process (see test_pledges_dal.py for the
    # concurrent case over the repository): through the handler the same key is repeated in sequence.
    results = [_create(ps, campaign) for _ in range(20)]

    assert {r.status for r in results} == {201}
    assert len({r.raw_body for r in results}) == 1
    assert [r.header("Idempotent-Replayed") for r in results] == [None] + ["true"] * 19
    assert len(ps.pledge_items()) == 1


def test_create_while_same_key_in_flight_returns_409_with_retry_after(ps, campaign, monkeypatch):
    from pledges_service.dal import DynamoPledgeRepository
    from pledges_service.logic import CreateOutcome, CreateResult

    class InFlight(DynamoPledgeRepository):  # DynamoDB cancelled the write with a TransactionConflict
        def create(self, pledge):
            return CreateResult(CreateOutcome.IN_FLIGHT)

    monkeypatch.setattr(ps.handler, "DynamoPledgeRepository", InFlight)

    result = _create(ps, campaign)

    result.problem(409, "idempotency-key-in-flight")
    assert result.header("Retry-After") == "1"


def test_create_without_idempotency_key_returns_400_missing_key(ps, campaign):
    result = _create(ps, campaign, key=None)

    result.problem(400, "missing-idempotency-key")
    assert ps.pledge_items() == []


def test_create_with_empty_idempotency_key_returns_400_missing_key(ps, campaign):
    _create(ps, campaign, key="").problem(400, "missing-idempotency-key")


@pytest.mark.parametrize("key", ["k" * 256, "clé-1"])
def test_create_with_malformed_idempotency_key_returns_400(ps, campaign, key):
    _create(ps, campaign, key=key).problem(400, "bad-request")

    assert ps.pledge_items() == []


def test_create_unknown_campaign_returns_404(ps):
    result = _create(ps, str(uuid.uuid4()))

    result.problem(404, "not-found")
    assert ps.pledge_items() == []


@pytest.mark.parametrize("status", ["COMPLETED", "CANCELLED"])
def test_create_on_closed_campaign_returns_409_campaign_not_active(ps, status):
    campaign_id = ps.put_campaign(status=status)

    result = _create(ps, campaign_id)

    result.problem(409, "campaign-not-active")
    assert ps.pledge_items() == []


def test_create_replay_after_campaign_completed_returns_first_response(ps, campaign):
    first = _create(ps, campaign)
    ps.set_campaign_status(campaign, "COMPLETED")

    again = _create(ps, campaign)

    assert (again.status, again.raw_body, again.header("Idempotent-Replayed")) == (201, first.raw_body, "true")


@pytest.mark.parametrize("amount", [0, "0.00", "-5.00", "1000000.01", "25.001", "abc", None])
def test_create_with_invalid_amount_returns_422(ps, campaign, amount):
    result = _create(ps, campaign, body={**GUEST_BODY, "amount": amount})

    problem = result.problem(422, "validation-error")
    assert ["body", "amount"] in [error["loc"][:2] for error in problem["errors"]]
    assert ps.pledge_items() == []


@pytest.mark.parametrize(("amount", "expected"), [(1000000, "1000000.00"), ("0.01", "0.01"), (12.5, "12.50")])
def test_create_with_boundary_amount_returns_201(ps, campaign, amount, expected):
    assert _created(ps, campaign, body={**GUEST_BODY, "amount": amount})["amount"] == expected


def test_create_guest_without_email_returns_422(ps, campaign):
    result = _create(ps, campaign, body={"amount": "25.00"})

    problem = result.problem(422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "donor_email"]
    assert ps.pledge_items() == []


def test_create_with_unknown_field_returns_422(ps, campaign):
    _create(ps, campaign, body={**GUEST_BODY, "status": "COMPLETED"}).problem(422, "validation-error")


def test_create_malformed_json_returns_400(ps, campaign):
    _create(ps, campaign, raw_body='{"amount": "25.00",').problem(400, "malformed-json")


def test_create_signed_in_returns_201_with_donor_id_and_account_email(ps, campaign, donor):
    pledge = _created(ps, campaign, body={"amount": "10.00"}, user=donor)

    assert (pledge["donor_id"], pledge["donor_email"]) == (donor["user_id"], "donor@example.com")
    assert pledge["id"] == pledge_id_for(f"user:{donor['user_id']}", KEY)


def test_create_signed_in_with_other_email_returns_422(ps, campaign, donor):
    result = _create(ps, campaign, body={"amount": "10.00", "donor_email": "someone.else@example.com"}, user=donor)

    problem = result.problem(422, "validation-error")
    assert problem["errors"][0]["loc"] == ["body", "donor_email"]
    assert ps.pledge_items() == []


def test_create_two_users_same_key_create_two_pledges(ps, campaign, donor, other_donor):
    first = _created(ps, campaign, body={"amount": "10.00"}, user=donor)
    second = _created(ps, campaign, body={"amount": "10.00"}, user=other_donor)

    assert first["id"] != second["id"]
    assert len(ps.pledge_items()) == 2


def test_create_user_and_guest_same_key_create_two_pledges(ps, campaign, donor):
    signed_in = _created(ps, campaign, user=donor, body={"amount": "25.00"})
    guest = _created(ps, campaign, body={"amount": "25.00", "donor_email": "donor@example.com"})

    assert signed_in["id"] != guest["id"]


@pytest.mark.parametrize("authorization", [
    "Bearer not-a-jwt", "Basic ZG9ub3I6cGFzc3dvcmQ=", "Bearer", "bearer-token-without-scheme",
])
def test_create_with_invalid_bearer_returns_401(ps, campaign, authorization):
    result = _create(ps, campaign, headers={"Authorization": authorization})

    result.problem(401, "unauthorized")
    assert ps.pledge_items() == []


def test_create_with_expired_bearer_returns_401(ps, campaign, donor):
    expired = ps.stack.bearer(donor, clock=lambda: time.time() - 7200)

    _create(ps, campaign, headers={"Authorization": expired}).problem(401, "unauthorized")


def test_create_with_token_of_unknown_user_returns_401(ps, campaign):
    ghost = {"user_id": str(uuid.uuid4()), "email": "ghost@example.com", "role": "DONOR"}

    _create(ps, campaign, user=ghost).problem(401, "unauthorized")


def test_create_with_lookup_link_token_as_bearer_returns_401(ps, campaign):
    _create(ps, campaign, headers={"Authorization": "Bearer " + _lookup_token(ps)}).problem(401, "unauthorized")


# ============================================================================ GET /pledges/{id}
def test_get_with_receipt_token_returns_200_pledge(ps, campaign):
    created = _created(ps, campaign)

    result = _get(ps, created["id"], receipt_token=created["receipt_token"])

    assert result.status == 200, result.raw_body
    assert result.json == {k: v for k, v in created.items() if k != "receipt_token"}
    assert result.header("X-Correlation-Id")


def test_get_with_wrong_receipt_token_returns_403(ps, campaign):
    created = _created(ps, campaign)

    _get(ps, created["id"], receipt_token="x" + created["receipt_token"][1:]).problem(403, "forbidden")


def test_get_with_receipt_token_of_other_pledge_returns_403(ps, campaign):
    first = _created(ps, campaign, key="k1")
    second = _created(ps, campaign, key="k2")

    _get(ps, first["id"], receipt_token=second["receipt_token"]).problem(403, "forbidden")


def test_get_by_donor_returns_200(ps, campaign, donor):
    created = _created(ps, campaign, body={"amount": "10.00"}, user=donor)

    result = _get(ps, created["id"], authorization=ps.stack.bearer(donor))

    assert (result.status, result.json["id"]) == (200, created["id"])


def test_get_by_other_donor_returns_403(ps, campaign, donor, other_donor):
    created = _created(ps, campaign, body={"amount": "10.00"}, user=donor)

    _get(ps, created["id"], authorization=ps.stack.bearer(other_donor)).problem(403, "forbidden")


def test_get_by_admin_returns_200(ps, campaign, donor, admin):
    created = _created(ps, campaign, body={"amount": "10.00"}, user=donor)

    result = _get(ps, created["id"], authorization=ps.stack.bearer(admin))

    assert (result.status, result.json["donor_id"]) == (200, donor["user_id"])


def test_get_without_token_or_bearer_returns_401(ps, campaign):
    created = _created(ps, campaign)

    _get(ps, created["id"]).problem(401, "unauthorized")


def test_get_with_invalid_bearer_returns_401(ps, campaign):
    created = _created(ps, campaign)

    _get(ps, created["id"], authorization="Bearer forged.token.value").problem(401, "unauthorized")


def test_get_unknown_pledge_returns_404(ps, admin):
    _get(ps, str(uuid.uuid4()), authorization=ps.stack.bearer(admin)).problem(404, "not-found")


def test_get_unknown_pledge_with_receipt_token_returns_404(ps):
    _get(ps, str(uuid.uuid4()), receipt_token="anything").problem(404, "not-found")


# ============================================================================ GET /users/me/pledges
def test_my_pledges_lists_own_newest_first(ps, campaign, donor, other_donor):
    ids = [_created(ps, campaign, key=f"k{i}", body={"amount": f"{i + 1}.00"}, user=donor)["id"] for i in range(3)]
    _created(ps, campaign, key="k0", body={"amount": "1.00"}, user=other_donor)
    _created(ps, campaign, key="guest", body={"amount": "1.00", "donor_email": "donor@example.com"})

    result = _mine(ps, donor)

    assert result.status == 200, result.raw_body
    assert [p["id"] for p in result.json["items"]] == ids[::-1]
    assert [p["amount"] for p in result.json["items"]] == ["3.00", "2.00", "1.00"]
    assert set(result.json["items"][0]) == PLEDGE_FIELDS
    assert result.json["next_cursor"] is None


def test_my_pledges_pages_with_cursor(ps, campaign, donor):
    ids = [_created(ps, campaign, key=f"k{i}", body={"amount": "5.00"}, user=donor)["id"] for i in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} if cursor is None else {"limit": "2", "cursor": cursor}
        page = _mine(ps, donor, **query).json
        seen += [p["id"] for p in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == ids[::-1]
    assert pages == 3


def test_my_pledges_without_pledges_returns_empty_list(ps, donor):
    assert _mine(ps, donor).json == {"items": [], "next_cursor": None}


def test_my_pledges_without_authorizer_context_returns_401(ps):
    _mine(ps, None).problem(401, "unauthorized")


def test_my_pledges_with_malformed_cursor_returns_422(ps, donor):
    _mine(ps, donor, cursor="not-a-cursor").problem(422, "validation-error")


@pytest.mark.parametrize("limit", ["0", "101", "many"])
def test_my_pledges_with_limit_out_of_range_returns_422(ps, donor, limit):
    _mine(ps, donor, limit=limit).problem(422, "validation-error")


# ============================================================================ POST /donations/lookup
def test_lookup_returns_202_and_mails_the_link(ps):
    result = _lookup(ps)

    assert result.status == 202
    assert result.json["status"] == "accepted"
    (mail,) = ps.sent_mail()
    assert mail.destinations["ToAddresses"] == ["guest.donor@example.com"]
    assert mail.source == ps.stack.environment["SENDER_EMAIL"]
    assert f"{ps.stack.environment['WEB_APP_URL']}/#/donations?token=" in mail.body


def test_lookup_link_token_is_a_15_minute_lookup_token(ps):
    _lookup(ps, email="Guest.Donor@EXAMPLE.com")

    claims = ps.stack.tokens(audience=LOOKUP_AUDIENCE).verify(_link_token(ps.sent_mail()[0]))
    assert claims.email == "guest.donor@example.com"
    assert claims.exp - claims.iat == 15 * 60


def test_lookup_unknown_email_answers_the_same_202_and_mails(ps, campaign):
    _created(ps, campaign)

    known, unknown = _lookup(ps), _lookup(ps, email="nobody@example.com")

    assert (unknown.status, unknown.raw_body) == (known.status, known.raw_body)
    assert [m.destinations["ToAddresses"] for m in ps.sent_mail()] == [
        ["guest.donor@example.com"], ["nobody@example.com"]]


def test_lookup_sixth_request_in_window_answers_202_without_mail(ps):
    results = [_lookup(ps) for _ in range(6)]

    assert [r.status for r in results] == [202] * 6
    assert len({r.raw_body for r in results}) == 1
    assert len(ps.sent_mail()) == 5


def test_lookup_limit_is_per_email(ps):
    for _ in range(6):
        _lookup(ps)

    _lookup(ps, email="another@example.com")

    assert ps.sent_mail()[-1].destinations["ToAddresses"] == ["another@example.com"]


def test_lookup_with_invalid_email_returns_422(ps):
    _lookup(ps, email="not-an-email").problem(422, "validation-error")

    assert ps.sent_mail() == []


def test_lookup_malformed_json_returns_400(ps):
    _lookup(ps, raw_body="{").problem(400, "malformed-json")


# ============================================================================ GET /donations?token=
def test_donations_with_mailed_link_lists_pledges_of_that_email(ps, campaign, donor):
    first = _created(ps, campaign, key="k1")
    second = _created(ps, campaign, key="k2", body={**GUEST_BODY, "donor_email": "GUEST.DONOR@example.com"})
    _created(ps, campaign, key="k3", body={**GUEST_BODY, "donor_email": "someone@example.com"})
    _created(ps, campaign, key="k4", body={"amount": "1.00"}, user=donor)
    _lookup(ps)

    result = _donations(ps, _link_token(ps.sent_mail()[0]))

    assert result.status == 200, result.raw_body
    assert [p["id"] for p in result.json["items"]] == [second["id"], first["id"]]
    assert all("receipt_token" not in p for p in result.json["items"])


def test_donations_include_signed_in_pledges_made_with_that_email(ps, campaign, donor):
    signed_in = _created(ps, campaign, body={"amount": "1.00"}, user=donor)

    result = _donations(ps, _lookup_token(ps, email="donor@example.com"))

    assert [p["id"] for p in result.json["items"]] == [signed_in["id"]]


def test_donations_page_with_cursor(ps, campaign):
    ids = [_created(ps, campaign, key=f"k{i}")["id"] for i in range(3)]
    token = _lookup_token(ps)

    first = _donations(ps, token, limit="2").json
    second = _donations(ps, token, limit="2", cursor=first["next_cursor"]).json

    assert [p["id"] for p in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None


def test_donations_with_email_without_pledges_returns_empty_list(ps):
    assert _donations(ps, _lookup_token(ps, email="nobody@example.com")).json == {"items": [], "next_cursor": None}


def test_donations_with_expired_link_returns_401(ps):
    expired = _lookup_token(ps, clock=lambda: time.time() - 15 * 60 - 1)

    _donations(ps, expired).problem(401, "unauthorized")


def test_donations_with_forged_link_returns_401(ps):
    from careforall.tokens import TokenService

    forged = TokenService("someone-elses-signing-key-0123456789abcdef", ps.stack.environment["TOKEN_ISSUER"], 900,
                          audience=LOOKUP_AUDIENCE).issue(user_id="guest", email="guest.donor@example.com",
                                                          role="GUEST")

    _donations(ps, forged).problem(401, "unauthorized")


def test_donations_with_api_access_token_returns_401(ps, donor):
    access_token = ps.stack.bearer(donor).removeprefix("Bearer ")

    _donations(ps, access_token).problem(401, "unauthorized")


def test_donations_without_token_returns_422(ps):
    ps.api(ps.stack.event("donations_list", query=None)).problem(422, "validation-error")
