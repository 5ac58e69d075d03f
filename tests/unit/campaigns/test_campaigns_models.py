"""Request models of the campaigns service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from campaigns_service.models import CampaignStatus, CreateCampaignRequest, UpdateCampaignRequest

VALID = {"title": "Clean water", "description": "Wells and filters.", "goal_amount": "2500.00"}


def _fields(raised) -> set[str]:
    return {str(error["loc"][0]) if error["loc"] else "" for error in raised.value.errors()}


def test_create_request_valid_body_parses_with_usd_default():
    request = CreateCampaignRequest.model_validate(VALID)

    assert (request.goal_amount, request.currency) == (Decimal("2500.00"), "USD")


def test_create_request_description_may_hold_newlines_and_tabs():
    request = CreateCampaignRequest.model_validate({**VALID, "description": "Line one\n\tLine two\r\n"})

    assert request.description == "Line one\n\tLine two\r\n"


def test_create_request_title_is_trimmed_and_keeps_unicode():
    assert CreateCampaignRequest.model_validate({**VALID, "title": "  Água limpa 💧 "}).title == "Água limpa 💧"


def test_create_request_empty_description_accepted():
    assert CreateCampaignRequest.model_validate({**VALID, "description": ""}).description == ""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", ""),
        ("title", "   "),
        ("title", "x" * 201),
        ("title", "bell\x07"),
        ("title", 42),
        ("description", "x" * 5001),
        ("description", "nul\x00byte"),
        ("description", "esc\x1b[2J"),
        ("description", None),
        ("goal_amount", "0"),
        ("goal_amount", "-10.00"),
        ("goal_amount", "25.001"),
        ("goal_amount", "100000000.01"),
        ("goal_amount", 10**40),
        ("goal_amount", "NaN"),
        ("goal_amount", "Infinity"),
        ("goal_amount", True),
        ("goal_amount", "abc"),
        ("goal_amount", None),
        ("currency", "usd"),
        ("currency", "US"),
        ("currency", "USDT"),
        ("currency", 840),
    ],
)
def test_create_request_invalid_field_rejected(field, value):
    with pytest.raises(ValidationError) as raised:
        CreateCampaignRequest.model_validate({**VALID, field: value})

    assert _fields(raised) == {field}


@pytest.mark.parametrize("extra", ["status", "owner_id", "current_amount", "id"])
def test_create_request_server_owned_field_rejected(extra):
    with pytest.raises(ValidationError) as raised:
        CreateCampaignRequest.model_validate({**VALID, extra: "x"})

    assert _fields(raised) == {extra}


def test_create_request_goal_at_maximum_accepted():
    assert CreateCampaignRequest.model_validate({**VALID, "goal_amount": "100000000.00"}).goal_amount == Decimal(
        "100000000.00")


@pytest.mark.parametrize("body", [{}, {"title": None}, {"title": None, "status": None}])
def test_update_request_without_any_change_rejected(body):
    with pytest.raises(ValidationError, match="at least one"):
        UpdateCampaignRequest.model_validate(body)


def test_update_request_single_field_accepted():
    request = UpdateCampaignRequest.model_validate({"status": "COMPLETED"})

    assert request.status is CampaignStatus.COMPLETED
    assert request.title is None


@pytest.mark.parametrize("status", ["completed", "DELETED", "", 1])
def test_update_request_unknown_status_rejected(status):
    with pytest.raises(ValidationError):
        UpdateCampaignRequest.model_validate({"status": status})


def test_update_request_owner_change_rejected():
    with pytest.raises(ValidationError):
        UpdateCampaignRequest.model_validate({"owner_id": "me"})
