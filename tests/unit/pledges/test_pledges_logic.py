"""PledgesService with in-memory fakes: idempotent creates, who may read a pledge, histories, the guest lookup."""

from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from careforall.errors import (BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError,
                               ValidationFailedError)
from careforall.identity import Caller, Role
from careforall.tokens import InvalidTokenError

from pledges_service.logic import (GUEST_SCOPE, PLEDGE_ID_NAMESPACE, CampaignNotActiveError,
                                   IdempotencyKeyInFlightError, IdempotencyKeyReuseError, LookupLimits,
                                   MissingIdempotencyKeyError, pledge_id_for)
from pledges_service.models import CreatePledgeRequest

CAMPAIGN = "0b6f2f3e-8d1c-4c55-9a0e-6f2b8a7c9d10"
OTHER_CAMPAIGN = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
KEY = "9b2f6c1e-4d7a-4f3b-a8e5-0c1d2e3f4a5b"
DONOR = Caller(user_id="donor-1", email="donor@example.com", role=Role.DONOR)
OTHER_DONOR = Caller(user_id="donor-2", email="other@example.com", role=Role.DONOR)
ADMIN = Caller(user_id="admin-1", email="admin@careforall.local", role=Role.ADMIN)
GUEST_BODY = {"amount": "25.00", "donor_email": "guest@example.com", "donor_name": "Grace", "message": "For the wells"}
PUBLIC_FIELDS = {"id", "campaign_id", "donor_id", "donor_email", "donor_name", "message", "amount", "currency",
                 "status", "payment", "created_at", "updated_at"}


@pytest.fixture(autouse=True)
def active_campaigns(campaigns):
    campaigns.add(CAMPAIGN)
    campaigns.add(OTHER_CAMPAIGN)


def _request(**fields) -> CreatePledgeRequest:
    return CreatePledgeRequest.model_validate(fields)


def _create(service, caller=None, key=KEY, campaign_id=CAMPAIGN, **fields):
    body = {**GUEST_BODY, **fields} if caller is None else {"amount": "25.00", **fields}
    return service.create(caller, campaign_id, key, _request(**{k: v for k, v in body.items() if v is not None}))


def _created(service, caller=None, key=KEY, **fields) -> dict:
    reply = _create(service, caller, key, **fields)
    assert reply.status == 201 and not reply.replayed
    return json.loads(reply.body)


def _link_token(mail) -> str:
    """The token of the lookup link in an email's text."""
    link = next(word for word in mail.text.split() if word.startswith("http"))
    return parse_qs(urlsplit(urlsplit(link).fragment).query)["token"][0]  # <app>/#/donations?token=


# ------------------------------------------------------------------------------------------ create
def test_create_first_request_returns_201_pending_pledge(service):
    reply = _create(service)

    body = json.loads(reply.body)
    assert (reply.status, reply.replayed, reply.pledge_id) == (201, False, body["id"])
    assert set(body) == PUBLIC_FIELDS | {"receipt_token"}
    assert (body["campaign_id"], body["amount"], body["currency"], body["status"]) == (
        CAMPAIGN, "25.00", "USD", "PENDING")
    assert (body["donor_id"], body["donor_email"], body["payment"]) == (None, "guest@example.com", None)
    assert body["created_at"] == body["updated_at"] and body["created_at"].endswith("Z")


def test_create_pledge_id_is_uuid5_of_scope_and_key(service):
    body = _created(service)

    assert body["id"] == str(uuid.uuid5(PLEDGE_ID_NAMESPACE, f"guest\n{KEY}"))
    assert uuid.UUID(body["id"]).version == 5


def test_create_stores_record_with_scope_fingerprint_and_first_response(service, pledges_repo):
    reply = _create(service)

    stored = pledges_repo.items[reply.pledge_id]
    assert (stored.scope, stored.amount_cents, stored.payment_method) == (GUEST_SCOPE, 2500, "pm_card_visa")
    assert len(stored.fingerprint) == 64
    assert (stored.response_status, stored.response_body) == (201, reply.body)


def test_create_stores_only_hash_of_receipt_token(service, pledges_repo):
    body = _created(service)

    stored = pledges_repo.items[body["id"]]
    assert len(body["receipt_token"]) >= 32
    assert stored.receipt_token_hash == hashlib.sha256(body["receipt_token"].encode()).hexdigest()
    assert body["receipt_token"] not in stored.model_dump_json(exclude={"response_body"})


def test_create_takes_currency_from_campaign(service, campaigns):
    campaigns.add("eur-campaign", currency="EUR")

    assert _created(service, campaign_id="eur-campaign")["currency"] == "EUR"


@pytest.mark.parametrize(("amount", "expected"), [("25", "25.00"), (25.5, "25.50"), ("0.01", "0.01"),
                                                  ("1000000.00", "1000000.00")])
def test_create_any_amount_spelling_returns_two_digit_string(service, amount, expected):
    assert _created(service, amount=amount)["amount"] == expected


def test_create_same_key_same_body_replays_first_response(service, pledges_repo):
    first = _create(service)

    again = _create(service)

    assert (again.status, again.body, again.pledge_id) == (first.status, first.body, first.pledge_id)
    assert again.replayed is True
    assert len(pledges_repo.items) == 1


def test_create_replay_returns_first_receipt_token(service):
    first = _created(service)

    again = json.loads(_create(service).body)

    assert again["receipt_token"] == first["receipt_token"]


def test_create_replay_after_campaign_closed_returns_first_response(service, campaigns):
    # GIVEN a pledge, and then the campaign completes
    first = _create(service)
    campaigns.set_status(CAMPAIGN, "COMPLETED")

    # WHEN the client retries the same request
    again = _create(service)

    # THEN it gets the pledge it made, not a 409
    assert (again.status, again.body, again.replayed) == (201, first.body, True)


@pytest.mark.parametrize("change", [{"amount": "26.00"}, {"amount": "25.01"}, {"campaign_id": OTHER_CAMPAIGN},
                                    {"donor_email": "someone@example.com"}, {"donor_name": "Ada"},
                                    {"message": "Another message"}, {"message": None},
                                    {"payment_method": "pm_card_chargeDeclined"}])
def test_create_same_key_different_body_raises_idempotency_key_reuse(service, pledges_repo, change):
    _create(service)

    with pytest.raises(IdempotencyKeyReuseError) as raised:
        _create(service, **change)

    assert (raised.value.status, raised.value.problem) == (422, "idempotency-key-reuse")
    assert len(pledges_repo.items) == 1


def test_create_body_with_other_key_order_and_whitespace_replays(service):
    # GIVEN a pledge made with one JSON spelling of the body
    first = service.create(None, CAMPAIGN, KEY, CreatePledgeRequest.model_validate_json(
        '{"amount": "25.00", "donor_email": "guest@example.com", "message": "hi"}'))

    # WHEN the same body comes again with other key order and whitespace
    again = service.create(None, CAMPAIGN, KEY, CreatePledgeRequest.model_validate_json(
        '{\n  "message":"hi",\n\t"donor_email" : "guest@example.com","amount":"25.00"}'))

    # THEN it is the same request
    assert (again.replayed, again.body) == (True, first.body)


def test_create_email_in_other_case_replays(service):
    first = _create(service, donor_email="Guest@Example.com")

    again = _create(service, donor_email="GUEST@EXAMPLE.COM")

    assert (again.replayed, again.body) == (True, first.body)


@pytest.mark.parametrize("amount", [25, 25.0, "25", "25.0", " 25.00 "])
def test_create_same_amount_spelled_differently_replays(service, amount):
    first = _create(service, amount="25.00")

    again = _create(service, amount=amount)

    assert (again.replayed, again.body) == (True, first.body)


def test_create_default_payment_method_spelled_out_replays(service):
    first = _create(service)

    again = _create(service, payment_method="pm_card_visa")

    assert (again.replayed, again.body) == (True, first.body)


def test_create_two_guests_same_key_share_guest_scope(service, pledges_repo):
    # GIVEN one guest's pledge; guests have no identity, so they share one scope
    first = _create(service)

    # WHEN another guest sends the same key and body
    again = _create(service)

    # THEN it is the same pledge
    assert (again.pledge_id, again.replayed) == (first.pledge_id, True)
    assert len(pledges_repo.items) == 1


def test_create_two_users_same_key_get_two_pledges(service, pledges_repo):
    first = _create(service, caller=DONOR)
    second = _create(service, caller=OTHER_DONOR)

    assert first.pledge_id != second.pledge_id
    assert not first.replayed and not second.replayed
    assert {r.scope for r in pledges_repo.items.values()} == {"user:donor-1", "user:donor-2"}


def test_create_user_and_guest_same_key_get_two_pledges(service, pledges_repo):
    user_reply = _create(service, caller=DONOR)
    guest_reply = _create(service)

    assert user_reply.pledge_id != guest_reply.pledge_id
    assert user_reply.pledge_id == pledge_id_for("user:donor-1", KEY)
    assert len(pledges_repo.items) == 2


def test_create_same_user_new_key_creates_second_pledge(service, pledges_repo):
    _create(service, caller=DONOR, key="key-1")
    second = _create(service, caller=DONOR, key="key-2")

    assert (second.status, second.replayed) == (201, False)
    assert len(pledges_repo.items) == 2


@pytest.mark.parametrize("key", [None, ""])
def test_create_without_idempotency_key_raises_missing_key(service, pledges_repo, key):
    with pytest.raises(MissingIdempotencyKeyError) as raised:
        _create(service, key=key)

    assert (raised.value.status, raised.value.problem) == (400, "missing-idempotency-key")
    assert pledges_repo.items == {}


@pytest.mark.parametrize("key", ["k" * 256, "clé", "tab\there", "line\nbreak", "trailing-newline\n", "\x7f"])
def test_create_malformed_idempotency_key_raises_bad_request(service, pledges_repo, key):
    with pytest.raises(BadRequestError) as raised:
        _create(service, key=key)

    assert raised.value.status == 400
    assert pledges_repo.items == {}


@pytest.mark.parametrize("key", ["k", "k" * 255, " ", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"])
def test_create_printable_ascii_key_of_1_to_255_is_accepted(service, key):
    assert _create(service, key=key).status == 201


def test_create_unknown_campaign_raises_not_found_and_stores_nothing(service, pledges_repo):
    with pytest.raises(NotFoundError):
        _create(service, campaign_id="no-such-campaign")

    assert pledges_repo.items == {}


@pytest.mark.parametrize("status", ["COMPLETED", "CANCELLED"])
def test_create_campaign_not_active_raises_campaign_not_active(service, campaigns, pledges_repo, status):
    campaigns.set_status(CAMPAIGN, status)

    with pytest.raises(CampaignNotActiveError) as raised:
        _create(service)

    assert (raised.value.status, raised.value.problem) == (409, "campaign-not-active")
    assert pledges_repo.items == {}


def test_create_while_same_key_in_flight_raises_conflict_with_retry_after(in_flight_service):
    with pytest.raises(IdempotencyKeyInFlightError) as raised:
        _create(in_flight_service)

    assert isinstance(raised.value, ConflictError)
    assert (raised.value.status, raised.value.problem) == (409, "idempotency-key-in-flight")
    assert raised.value.headers == {"Retry-After": "1"}


def test_create_guest_without_email_raises_validation_failed(service, pledges_repo):
    with pytest.raises(ValidationFailedError) as raised:
        _create(service, donor_email=None)

    assert raised.value.status == 422
    assert raised.value.extensions["errors"][0]["loc"] == ["body", "donor_email"]
    assert pledges_repo.items == {}


def test_create_signed_in_without_email_uses_account_email(service):
    body = _created(service, caller=DONOR)

    assert (body["donor_id"], body["donor_email"]) == ("donor-1", "donor@example.com")


def test_create_signed_in_with_own_email_in_other_case_is_accepted(service):
    body = _created(service, caller=DONOR, donor_email="Donor@EXAMPLE.com")

    assert body["donor_email"] == "donor@example.com"


def test_create_signed_in_with_other_email_raises_validation_failed(service, pledges_repo):
    with pytest.raises(ValidationFailedError) as raised:
        _create(service, caller=DONOR, donor_email="someone.else@example.com")

    assert raised.value.extensions["errors"][0]["loc"] == ["body", "donor_email"]
    assert pledges_repo.items == {}


def test_create_signed_in_records_user_scope_and_donor_id(service, pledges_repo):
    reply = _create(service, caller=DONOR)

    stored = pledges_repo.items[reply.pledge_id]
    assert (stored.scope, stored.donor_id) == ("user:donor-1", "donor-1")


# ------------------------------------------------------------------------------------------ get
def test_get_with_right_receipt_token_returns_pledge(service):
    created = _created(service)

    pledge = service.get(None, created["id"], created["receipt_token"])

    assert pledge.model_dump(mode="json") == {k: v for k, v in created.items() if k != "receipt_token"}


def test_get_with_wrong_receipt_token_raises_forbidden(service):
    created = _created(service)

    with pytest.raises(ForbiddenError):
        service.get(None, created["id"], created["receipt_token"] + "x")


def test_get_with_wrong_receipt_token_is_forbidden_even_for_donor(service):
    created = _created(service, caller=DONOR)

    with pytest.raises(ForbiddenError):
        service.get(DONOR, created["id"], "not-the-token")


def test_get_by_donor_returns_pledge(service):
    created = _created(service, caller=DONOR)

    assert service.get(DONOR, created["id"], None).id == created["id"]


def test_get_by_other_donor_raises_forbidden(service):
    created = _created(service, caller=DONOR)

    with pytest.raises(ForbiddenError):
        service.get(OTHER_DONOR, created["id"], None)


def test_get_guest_pledge_by_signed_in_donor_raises_forbidden(service):
    created = _created(service)

    with pytest.raises(ForbiddenError):
        service.get(DONOR, created["id"], None)


def test_get_by_admin_returns_pledge(service):
    created = _created(service, caller=DONOR)

    assert service.get(ADMIN, created["id"], None).id == created["id"]


def test_get_without_caller_or_token_raises_unauthorized(service):
    created = _created(service)

    with pytest.raises(UnauthorizedError):
        service.get(None, created["id"], None)


def test_get_unknown_id_raises_not_found(service):
    with pytest.raises(NotFoundError):
        service.get(ADMIN, str(uuid.uuid4()), None)


def test_get_returns_no_secrets(service):
    created = _created(service)

    pledge = service.get(None, created["id"], created["receipt_token"]).model_dump(mode="json")

    assert set(pledge) == PUBLIC_FIELDS


# ------------------------------------------------------------------------------------------ my pledges
def test_my_pledges_lists_own_newest_first(service):
    ids = [_created(service, caller=DONOR, key=f"key-{i}")["id"] for i in range(3)]
    _created(service, caller=OTHER_DONOR, key="key-0")
    _created(service, key="guest-key", donor_email="donor@example.com")  # same email, but not signed in

    page = service.my_pledges(DONOR, limit=20, cursor=None)

    assert [p.id for p in page.items] == ids[::-1]
    assert page.next_cursor is None


def test_my_pledges_pages_with_cursor(service):
    ids = [_created(service, caller=DONOR, key=f"key-{i}")["id"] for i in range(5)]

    first = service.my_pledges(DONOR, limit=2, cursor=None)
    second = service.my_pledges(DONOR, limit=2, cursor=first.next_cursor)
    third = service.my_pledges(DONOR, limit=2, cursor=second.next_cursor)

    assert [p.id for page in (first, second, third) for p in page.items] == ids[::-1]
    assert third.next_cursor is None


def test_my_pledges_without_pledges_returns_empty_page(service):
    page = service.my_pledges(DONOR, limit=20, cursor=None)

    assert (page.items, page.next_cursor) == ([], None)


# ------------------------------------------------------------------------------------------ lookup
def test_request_lookup_sends_one_mail_to_address(service, mailer):
    assert service.request_lookup("guest@example.com", "203.0.113.10") is True

    assert [m.to for m in mailer.sent] == ["guest@example.com"]
    assert "15 minutes" in mailer.sent[0].text


def test_request_lookup_link_points_at_web_app_donations(service, mailer):
    service.request_lookup("guest@example.com", "203.0.113.10")

    link = next(word for word in mailer.sent[0].text.split() if word.startswith("http"))
    assert link.startswith("https://app.careforall.org/#/donations?token=")


def test_request_lookup_link_token_has_lookup_audience_and_email(service, mailer, lookup_tokens, clock):
    service.request_lookup("Guest@Example.com", "203.0.113.10")

    claims = lookup_tokens.verify(_link_token(mailer.sent[0]))
    assert (claims.email, claims.role) == ("guest@example.com", "GUEST")
    assert claims.exp - claims.iat == 15 * 60
    assert claims.iat == int(clock.now)


def test_request_lookup_link_token_is_no_api_token(service, mailer, api_tokens):
    service.request_lookup("guest@example.com", "203.0.113.10")

    with pytest.raises(InvalidTokenError):
        api_tokens.verify(_link_token(mailer.sent[0]))


def test_request_lookup_unknown_email_still_sends_mail(service, mailer, pledges_repo):
    assert pledges_repo.items == {}

    assert service.request_lookup("nobody@example.com", "203.0.113.10") is True
    assert len(mailer.sent) == 1


def test_request_lookup_sixth_in_window_is_silently_dropped(service, mailer):
    results = [service.request_lookup("guest@example.com", "203.0.113.10") for _ in range(6)]

    assert results == [True] * 5 + [False]
    assert len(mailer.sent) == 5


def test_request_lookup_limit_counts_email_case_insensitively(service, mailer):
    for spelling in ["guest@example.com", "GUEST@example.com", "Guest@Example.com", "guest@EXAMPLE.com",
                     " guest@example.com "]:
        service.request_lookup(spelling, "203.0.113.10")

    assert service.request_lookup("gUeSt@example.com", "203.0.113.10") is False
    assert len(mailer.sent) == 5


def test_request_lookup_limit_is_per_email(service, mailer):
    for _ in range(5):
        service.request_lookup("guest@example.com", "203.0.113.10")

    assert service.request_lookup("other@example.com", "203.0.113.10") is True
    assert mailer.sent[-1].to == "other@example.com"


def test_request_lookup_next_window_sends_again(service, mailer, clock):
    for _ in range(6):
        service.request_lookup("guest@example.com", "203.0.113.10")

    clock.advance(15 * 60)

    assert service.request_lookup("guest@example.com", "203.0.113.10") is True
    assert len(mailer.sent) == 6


def test_request_lookup_counters_expire_after_next_window(service, counters, clock):
    service.request_lookup("guest@example.com", "203.0.113.10")

    window = int(clock.now) // 900
    assert set(counters.expiries.values()) == {(window + 2) * 900}


def test_request_lookup_limit_per_client_is_silent(make_service, mailer):
    service = make_service(limits=LookupLimits(max_per_client=3))

    results = [service.request_lookup(f"guest{i}@example.com", "203.0.113.10") for i in range(4)]

    assert results == [True, True, True, False]
    assert service.request_lookup("guest9@example.com", "198.51.100.7") is True
    assert len(mailer.sent) == 4


# ------------------------------------------------------------------------------------------ guest donations
def _lookup_token(service, mailer, email="guest@example.com") -> str:
    service.request_lookup(email, "203.0.113.10")
    return _link_token(mailer.sent[-1])


def test_guest_donations_lists_pledges_with_that_email_newest_first(service, mailer):
    first = _created(service, key="k1")
    second = _created(service, key="k2", donor_email="GUEST@example.com", amount="10.00")
    _created(service, key="k3", donor_email="other@example.com")

    page = service.guest_donations(_lookup_token(service, mailer), limit=20, cursor=None)

    assert [p.id for p in page.items] == [second["id"], first["id"]]


def test_guest_donations_include_signed_in_pledges_with_that_email(service, mailer):
    signed_in = _created(service, caller=DONOR)

    page = service.guest_donations(_lookup_token(service, mailer, "donor@example.com"), limit=20, cursor=None)

    assert [p.id for p in page.items] == [signed_in["id"]]


def test_guest_donations_pages_with_cursor(service, mailer):
    ids = [_created(service, key=f"k{i}")["id"] for i in range(3)]
    token = _lookup_token(service, mailer)

    first = service.guest_donations(token, limit=2, cursor=None)
    second = service.guest_donations(token, limit=2, cursor=first.next_cursor)

    assert [p.id for p in first.items + second.items] == ids[::-1]
    assert second.next_cursor is None


def test_guest_donations_link_used_within_15_minutes_works(service, mailer, clock):
    _created(service)
    token = _lookup_token(service, mailer)

    clock.advance(15 * 60 - 1)

    assert len(service.guest_donations(token, limit=20, cursor=None).items) == 1


def test_guest_donations_link_after_15_minutes_raises_unauthorized(service, mailer, clock):
    token = _lookup_token(service, mailer)

    clock.advance(15 * 60)

    with pytest.raises(UnauthorizedError):
        service.guest_donations(token, limit=20, cursor=None)


def test_guest_donations_forged_token_raises_unauthorized(service, make_tokens):
    forged = make_tokens(signing_key="another-signing-key-0123456789abcdefghijkl").issue(
        user_id="guest", email="guest@example.com", role="GUEST")

    with pytest.raises(UnauthorizedError):
        service.guest_donations(forged, limit=20, cursor=None)


def test_guest_donations_api_access_token_raises_unauthorized(service, api_tokens):
    # an access token signed with the same key is for the API's audience, not the lookup link's
    access_token = api_tokens.issue(user_id="donor-1", email="donor@example.com", role="DONOR")

    with pytest.raises(UnauthorizedError):
        service.guest_donations(access_token, limit=20, cursor=None)


def test_guest_donations_other_issuer_raises_unauthorized(service, make_tokens):
    token = make_tokens(issuer="https://evil.example").issue(user_id="guest", email="guest@example.com", role="GUEST")

    with pytest.raises(UnauthorizedError):
        service.guest_donations(token, limit=20, cursor=None)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_guest_donations_garbage_token_raises_unauthorized(service, token):
    with pytest.raises(UnauthorizedError):
        service.guest_donations(token, limit=20, cursor=None)
