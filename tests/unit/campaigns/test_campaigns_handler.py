"""The campaigns Lambda handler end to end: API Gateway proxy events in, proxy results out, moto behind."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from careforall.api import MAX_BODY_BYTES

ADMIN = {"user_id": "5f0c2a4e-3b1d-4c8e-9a7f-1d2e3f4a5b6c", "email": "admin@careforall.local", "role": "ADMIN"}
OTHER_ADMIN = {"user_id": "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a", "email": "second@careforall.local",
               "role": "ADMIN"}
DONOR = {"user_id": "8b9a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "email": "donor@example.com", "role": "DONOR"}
CREATE = {"title": "Clean water for Riverside", "description": "Wells and filters for 40 families.",
          "goal_amount": "25000.00"}
CAMPAIGN_FIELDS = {"id", "title", "description", "goal_amount", "current_amount", "currency", "status", "owner_id",
                   "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def ticking_clock(monkeypatch):
    """Each timestamp the service takes is one second after the previous: ordering is deterministic."""
    from careforall.clock import iso

    moments = (datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc) + timedelta(seconds=i) for i in range(10**6))
    monkeypatch.setattr("campaigns_service.logic.now_iso", lambda: iso(next(moments)))


def _create(stack, body=None, caller=ADMIN, **tweaks):
    return stack.campaigns_api(stack.event("campaigns_create", body=CREATE if body is None else body, caller=caller,
                                           **tweaks))


def _created(stack, **fields) -> dict:
    result = _create(stack, body={**CREATE, **fields})
    assert result.status == 201, result.raw_body
    return result.json


def _get(stack, campaign_id, **tweaks):
    return stack.campaigns_api(stack.event("campaigns_get", path=f"/campaigns/{campaign_id}",
                                           path_params={"id": campaign_id}, **tweaks))


def _list(stack, **query):
    return stack.campaigns_api(stack.event("campaigns_list", query=query or None))


def _patch(stack, campaign_id, body, caller=ADMIN, **tweaks):
    if "raw_body" not in tweaks:
        tweaks["body"] = body
    return stack.campaigns_api(stack.event("campaigns_update", path=f"/campaigns/{campaign_id}",
                                           path_params={"id": campaign_id}, caller=caller, **tweaks))


def _error_fields(problem_body) -> set[str]:
    return {str(error["loc"][-1]) for error in problem_body["errors"]}


# ============================================================================ POST /campaigns
def test_create_by_admin_returns_201_campaign(stack):
    result = _create(stack)

    assert result.status == 201
    assert result.header("Content-Type") == "application/json"
    campaign = result.json
    assert set(campaign) == CAMPAIGN_FIELDS
    assert uuid.UUID(campaign["id"])
    assert (campaign["title"], campaign["goal_amount"], campaign["current_amount"]) == (
        "Clean water for Riverside", "25000.00", "0.00")
    assert (campaign["currency"], campaign["status"], campaign["owner_id"]) == ("USD", "ACTIVE", ADMIN["user_id"])
    assert campaign["created_at"] == campaign["updated_at"]
    assert campaign["created_at"].endswith("Z")


def test_create_sends_correlation_id_back(stack):
    result = _create(stack, headers={"X-Correlation-Id": "admin-ui-7"})

    assert result.header("X-Correlation-Id") == "admin-ui-7"


def test_create_hostile_correlation_id_answers_with_request_id(stack):
    event = stack.event("campaigns_create", body=CREATE, headers={"X-Correlation-Id": "x\r\nSet-Cookie: a=b"})

    result = stack.campaigns_api(event)

    assert result.status == 201
    assert result.header("X-Correlation-Id") == event["requestContext"]["requestId"]


def test_create_valid_body_is_readable_back(stack):
    campaign = _created(stack)

    assert _get(stack, campaign["id"]).json == campaign


@pytest.mark.parametrize(("goal", "expected"), [(25000, "25000.00"), (25.5, "25.50"), ("0.1", "0.10"),
                                                ("100000000.00", "100000000.00")])
def test_create_goal_as_string_or_number_returns_two_digit_string(stack, goal, expected):
    assert _created(stack, goal_amount=goal)["goal_amount"] == expected


def test_create_with_currency_keeps_it(stack):
    assert _created(stack, currency="EUR")["currency"] == "EUR"


def test_create_unicode_and_multiline_text_round_trips(stack):
    campaign = _created(stack, title="Água limpa 💧 für Zürich", description="Line one\nLíne two\t✓")

    assert (campaign["title"], campaign["description"]) == ("Água limpa 💧 für Zürich", "Line one\nLíne two\t✓")


def test_create_by_donor_returns_403(stack):
    result = _create(stack, caller=DONOR)

    result.problem(403, "forbidden")
    assert stack.item_count("CampaignsTable") == 0


def test_create_without_authorizer_context_returns_401(stack):
    result = _create(stack, caller=None)

    result.problem(401, "unauthorized")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("goal_amount", "25.001"),
        ("goal_amount", "0"),
        ("goal_amount", "-5.00"),
        ("goal_amount", 10**40),
        ("goal_amount", "1e40"),
        ("goal_amount", "100000000.01"),
        ("goal_amount", "NaN"),
        ("goal_amount", "Infinity"),
        ("goal_amount", True),
        ("goal_amount", "twenty"),
        ("goal_amount", []),
        ("title", ""),
        ("title", "x" * 201),
        ("title", "bell\x07"),
        ("title", 123),
        ("description", "x" * 5001),
        ("description", "nul\x00"),
        ("currency", "usd"),
        ("currency", "DOLLARS"),
    ],
)
def test_create_invalid_field_returns_422_naming_the_field(stack, field, value):
    result = _create(stack, body={**CREATE, field: value})

    body = result.problem(422, "validation-error")
    assert _error_fields(body) == {field}
    assert stack.item_count("CampaignsTable") == 0


@pytest.mark.parametrize("extra", ["status", "owner_id", "current_amount", "id", "created_at"])
def test_create_server_owned_field_returns_422(stack, extra):
    result = _create(stack, body={**CREATE, extra: "x"})

    assert _error_fields(result.problem(422)) == {extra}


def test_create_missing_fields_returns_422_listing_each(stack):
    result = _create(stack, body={})

    assert _error_fields(result.problem(422)) == {"title", "description", "goal_amount"}


def test_create_malformed_json_returns_400(stack):
    result = _create(stack, raw_body='{"title": "Clean water", ')

    result.problem(400, "malformed-json")


@pytest.mark.parametrize("raw", [json.dumps([CREATE]), "[]", '"a campaign"', "3.14"])
def test_create_json_that_is_not_an_object_returns_422(stack, raw):
    result = _create(stack, raw_body=raw)

    result.problem(422, "validation-error")
    assert stack.item_count("CampaignsTable") == 0


def test_create_oversized_body_returns_413(stack):
    result = _create(stack, body={**CREATE, "description": "x" * MAX_BODY_BYTES})

    result.problem(413, "content-too-large")


# ============================================================================ GET /campaigns/{id}
def test_get_existing_campaign_returns_200(stack):
    campaign = _created(stack)

    result = _get(stack, campaign["id"])

    assert result.status == 200
    assert result.json == campaign


def test_get_without_token_returns_200(stack):
    campaign = _created(stack)

    result = _get(stack, campaign["id"], caller=None)

    assert result.status == 200


def test_get_unknown_campaign_returns_404(stack):
    result = _get(stack, str(uuid.uuid4()), headers={"X-Correlation-Id": "lookup-1"})

    result.problem(404, "not-found")
    assert result.header("X-Correlation-Id") == "lookup-1"


def test_get_overlong_id_returns_422(stack):
    _get(stack, "c" * 65).problem(422, "validation-error")


def test_get_without_totals_item_reports_zero(stack):
    campaign = _created(stack)

    assert _get(stack, campaign["id"]).json["current_amount"] == "0.00"


def test_get_current_amount_reflects_totals_item(stack):
    # GIVEN the totals aggregator recorded 123.45 raised
    campaign = _created(stack)
    stack.put_totals(campaign["id"], total_cents=12345, pledge_count=3)

    # WHEN / THEN the campaign reports it
    assert _get(stack, campaign["id"]).json["current_amount"] == "123.45"


# ============================================================================ GET /campaigns
def test_list_without_campaigns_returns_empty_page(stack):
    result = _list(stack)

    assert result.status == 200
    assert result.json == {"items": [], "next_cursor": None}


def test_list_returns_newest_first(stack):
    ids = [_created(stack, title=f"Campaign {i}")["id"] for i in range(3)]

    result = _list(stack)

    assert [item["id"] for item in result.json["items"]] == list(reversed(ids))
    assert result.json["next_cursor"] is None


def test_list_pages_follow_next_cursor_without_gaps_or_repeats(stack):
    # GIVEN three campaigns
    ids = [_created(stack, title=f"Campaign {i}")["id"] for i in range(3)]

    # WHEN listed two at a time
    first = _list(stack, limit="2").json
    second = _list(stack, limit="2", cursor=first["next_cursor"]).json

    # THEN the pages hold all three, newest first, and the last page says there is no more
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    assert [item["id"] for item in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None


def test_list_items_carry_current_amount_from_totals(stack):
    funded, unfunded = _created(stack, title="funded"), _created(stack, title="unfunded")
    stack.put_totals(funded["id"], total_cents=5000)

    items = {item["id"]: item["current_amount"] for item in _list(stack).json["items"]}

    assert items == {funded["id"]: "50.00", unfunded["id"]: "0.00"}


def test_list_status_filter_returns_only_that_status(stack):
    active = _created(stack, title="active")
    cancelled = _created(stack, title="cancelled")
    _patch(stack, cancelled["id"], {"status": "CANCELLED"})

    only_active = _list(stack, status="ACTIVE").json["items"]
    only_cancelled = _list(stack, status="CANCELLED").json["items"]

    assert [item["id"] for item in only_active] == [active["id"]]
    assert [item["id"] for item in only_cancelled] == [cancelled["id"]]
    assert only_cancelled[0]["status"] == "CANCELLED"


def test_list_status_filter_pages_follow_next_cursor(stack):
    ids = [_created(stack, title=f"Campaign {i}")["id"] for i in range(3)]

    first = _list(stack, status="ACTIVE", limit="2").json
    second = _list(stack, status="ACTIVE", limit="2", cursor=first["next_cursor"]).json

    assert [item["id"] for item in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None


def test_list_without_token_returns_200(stack):
    _created(stack)

    result = stack.campaigns_api(stack.event("campaigns_list", query=None, caller=None))

    assert result.status == 200
    assert len(result.json["items"]) == 1


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJmb28iOiJiYXIifQ", "!!!!", "e30"])
def test_list_invalid_cursor_returns_422(stack, cursor):
    result = _list(stack, cursor=cursor)

    body = result.problem(422, "validation-error")
    assert body["errors"][0]["loc"] == ["query", "cursor"]


def test_list_cursor_of_status_listing_in_plain_listing_returns_422(stack):
    for i in range(2):
        _created(stack, title=f"Campaign {i}")
    cursor = _list(stack, status="ACTIVE", limit="1").json["next_cursor"]

    _list(stack, cursor=cursor).problem(422, "validation-error")


def test_list_cursor_of_one_status_with_another_status_returns_422(stack):
    for i in range(2):
        _created(stack, title=f"Campaign {i}")
    cursor = _list(stack, status="ACTIVE", limit="1").json["next_cursor"]

    _list(stack, status="CANCELLED", cursor=cursor).problem(422, "validation-error")


def test_list_overlong_cursor_returns_422(stack):
    _list(stack, cursor="A" * 1025).problem(422, "validation-error")


@pytest.mark.parametrize("limit", ["0", "-1", "101", "abc", "1.5"])
def test_list_limit_out_of_range_returns_422(stack, limit):
    body = _list(stack, limit=limit).problem(422, "validation-error")

    assert body["errors"][0]["loc"] == ["query", "limit"]


@pytest.mark.parametrize("status", ["active", "DELETED", ""])
def test_list_unknown_status_returns_422(stack, status):
    _list(stack, status=status).problem(422, "validation-error")


def test_list_limit_of_100_accepted(stack):
    _created(stack)

    assert _list(stack, limit="100").status == 200


# ============================================================================ PATCH /campaigns/{id}
def test_update_by_admin_changes_title(stack):
    campaign = _created(stack)

    result = _patch(stack, campaign["id"], {"title": "Clean water, phase 2"})

    assert result.status == 200
    assert result.json["title"] == "Clean water, phase 2"
    assert result.json["description"] == campaign["description"]
    assert result.json["updated_at"] > campaign["updated_at"]
    assert result.json["created_at"] == campaign["created_at"]
    assert _get(stack, campaign["id"]).json["title"] == "Clean water, phase 2"


def test_update_goal_amount_returns_two_digit_string(stack):
    campaign = _created(stack)

    assert _patch(stack, campaign["id"], {"goal_amount": 30000.5}).json["goal_amount"] == "30000.50"


def test_update_by_other_admin_allowed(stack):
    campaign = _created(stack)

    assert _patch(stack, campaign["id"], {"description": "More wells."}, caller=OTHER_ADMIN).status == 200


def test_update_by_owner_no_longer_admin_allowed(stack):
    campaign = _created(stack)
    demoted_owner = {**ADMIN, "role": "DONOR"}

    assert _patch(stack, campaign["id"], {"title": "Still mine"}, caller=demoted_owner).status == 200


def test_update_by_other_donor_returns_403(stack):
    campaign = _created(stack)

    result = _patch(stack, campaign["id"], {"title": "Hijacked"}, caller=DONOR)

    result.problem(403, "forbidden")
    assert _get(stack, campaign["id"]).json["title"] == campaign["title"]


def test_update_without_authorizer_context_returns_401(stack):
    campaign = _created(stack)

    _patch(stack, campaign["id"], {"title": "x"}, caller=None).problem(401, "unauthorized")


def test_update_unknown_campaign_returns_404(stack):
    _patch(stack, str(uuid.uuid4()), {"title": "x"}).problem(404, "not-found")


@pytest.mark.parametrize("target", ["COMPLETED", "CANCELLED"])
def test_update_status_from_active_returns_200(stack, target):
    campaign = _created(stack)

    result = _patch(stack, campaign["id"], {"status": target})

    assert result.json["status"] == target
    assert _get(stack, campaign["id"]).json["status"] == target


@pytest.mark.parametrize(("closed", "target"), [("COMPLETED", "ACTIVE"), ("CANCELLED", "ACTIVE"),
                                                ("COMPLETED", "CANCELLED"), ("CANCELLED", "COMPLETED")])
def test_update_status_of_closed_campaign_returns_409(stack, closed, target):
    campaign = _created(stack)
    _patch(stack, campaign["id"], {"status": closed})

    result = _patch(stack, campaign["id"], {"status": target})

    result.problem(409, "campaign-status-conflict")
    assert _get(stack, campaign["id"]).json["status"] == closed


def test_update_fields_of_closed_campaign_returns_409(stack):
    campaign = _created(stack)
    _patch(stack, campaign["id"], {"status": "COMPLETED"})

    _patch(stack, campaign["id"], {"title": "Sneaky edit"}).problem(409, "campaign-status-conflict")


def test_update_current_amount_reflects_totals_item(stack):
    campaign = _created(stack)
    stack.put_totals(campaign["id"], total_cents=99)

    assert _patch(stack, campaign["id"], {"title": "New"}).json["current_amount"] == "0.99"


@pytest.mark.parametrize("body", [{}, {"title": None}, {"description": None, "goal_amount": None}])
def test_update_without_any_change_returns_422(stack, body):
    campaign = _created(stack)

    _patch(stack, campaign["id"], body).problem(422, "validation-error")


@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "DELETED"), ("status", "completed"), ("goal_amount", "1.001"), ("goal_amount", 0),
     ("title", "x" * 201), ("title", "\x1b[2J"), ("owner_id", DONOR["user_id"]), ("current_amount", "1000000.00")],
)
def test_update_invalid_field_returns_422_naming_the_field(stack, field, value):
    campaign = _created(stack)

    result = _patch(stack, campaign["id"], {field: value})

    assert _error_fields(result.problem(422, "validation-error")) == {field}
    assert _get(stack, campaign["id"]).json == campaign


def test_update_malformed_json_returns_400(stack):
    campaign = _created(stack)

    _patch(stack, campaign["id"], None, raw_body="{'title': 'x'}").problem(400, "malformed-json")


def test_update_json_array_returns_422(stack):
    campaign = _created(stack)

    _patch(stack, campaign["id"], None, raw_body='[{"status": "CANCELLED"}]').problem(422)

    assert _get(stack, campaign["id"]).json["status"] == "ACTIVE"


def test_update_oversized_body_returns_413(stack):
    campaign = _created(stack)

    _patch(stack, campaign["id"], {"description": "x" * MAX_BODY_BYTES}).problem(413, "content-too-large")


# ============================================================================ routing
def test_request_unknown_route_returns_404(stack):
    event = stack.event("campaigns_list", path="/campaigns/x/y/z", query=None)

    stack.campaigns_api(event).problem(404, "not-found")
