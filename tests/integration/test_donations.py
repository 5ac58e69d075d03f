"""The guest lookup over HTTP: a mailed link lists every pledge made with an email (CONTRACT.md, "Pledges")."""

from __future__ import annotations

import time

import pytest

from tests.integration.helpers import (LOOKUP_TOKEN, assert_json, assert_problem, forge_token, mail_to, poll,
                                       unique_email)

LOOKUP_AUDIENCE = "careforall-donation-lookup"
LOOKUP_WINDOW_SECONDS = 900  # the per-email limit counts lookups in 15-minute windows
MAX_LOOKUPS_PER_EMAIL = 5


def request_lookup(api, email: str) -> dict:
    return assert_json(api.post("/donations/lookup", json={"email": email}), 202)


def lookup_token(stack, email: str, mails_before: int = 0) -> str:
    """The token of the newest lookup link mailed to `email`, once more than `mails_before` mails arrived."""
    mails = poll(lambda: (m := mail_to(stack.base_url, email)) and len(m) > mails_before and m,
                 timeout=10, what=f"a lookup mail to {email}")
    match = LOOKUP_TOKEN.search(mails[-1]["text"])
    assert match, f"no link with token= in {mails[-1]['text']!r}"
    return match.group(1)


def listed_ids(api, token: str) -> list[str]:
    ids, cursor = [], None
    for _ in range(20):
        params = {"token": token, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = assert_json(api.get("/donations", params=params), 200)
        assert set(page) == {"items", "next_cursor"}
        assert all("receipt_token" not in item for item in page["items"])
        ids.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the listing does not end")


def test_request_lookup_for_email_with_and_without_pledges_returns_same_202(api, campaign, create_pledge):
    with_pledges, without = unique_email("has"), unique_email("hasnot")
    assert_json(create_pledge(campaign["id"], donor_email=with_pledges), 201)

    first = request_lookup(api, with_pledges)
    second = request_lookup(api, without)

    assert first == second
    assert first["status"] == "accepted"


def test_request_lookup_mails_link_with_token_to_the_email(api, stack, campaign, create_pledge):
    email = unique_email("mailme")
    assert_json(create_pledge(campaign["id"], donor_email=email), 201)

    request_lookup(api, email)

    mails = poll(lambda: mail_to(stack.base_url, email), timeout=10, what="the lookup mail")
    assert len(mails) == 1
    assert email in mails[0]["to"]
    assert mails[0]["from"]
    assert mails[0]["subject"]
    assert "/#/donations?token=" in mails[0]["text"]
    assert "15 minutes" in mails[0]["text"]


def test_list_donations_with_mailed_token_lists_exactly_that_emails_pledges(api, stack, create_campaign,
                                                                           create_pledge):
    email = unique_email("lookup")
    registered = assert_json(api.post("/auth/register", json={"email": email, "password": "correct horse battery",
                                                             "name": "Reg Donor"}), 201)
    first, second = create_campaign()["id"], create_campaign()["id"]
    expected = [
        assert_json(create_pledge(first, donor_email=email, amount="1.00"), 201)["id"],
        assert_json(create_pledge(second, donor_email=email.upper(), amount="2.00"), 201)["id"],
        assert_json(create_pledge(first, token=registered["token"], amount="3.00"), 201)["id"],
    ]
    assert_json(create_pledge(first, donor_email=unique_email("other"), amount="4.00"), 201)
    request_lookup(api, email.upper())

    ids = listed_ids(api, lookup_token(stack, email))

    assert ids == list(reversed(expected)), "exactly that email's pledges, newest first"


def test_list_donations_for_email_without_pledges_returns_empty_list(api, stack):
    email = unique_email("nobody")
    request_lookup(api, email)

    body = assert_json(api.get("/donations", params={"token": lookup_token(stack, email)}), 200)

    assert body == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("token", [
    "garbage",
    forge_token(key="not-the-stack-key-" + "0" * 40, role="GUEST", audience=LOOKUP_AUDIENCE),
    forge_token(role="GUEST", audience=LOOKUP_AUDIENCE, issued_at=int(time.time()) - 7200, lifetime=900),
], ids=["garbage", "forged-signature", "expired"])
def test_list_donations_with_forged_or_garbage_token_returns_401(api, token):
    assert_problem(api.get("/donations", params={"token": token}), 401)


def test_list_donations_without_token_returns_422(api):
    assert_problem(api.get("/donations"), 422)


def test_list_donations_with_api_access_token_returns_401(api, donor):
    assert_problem(api.get("/donations", params={"token": donor["token"]}), 401)


def test_call_api_with_lookup_token_as_bearer_returns_401(api, stack):
    email = unique_email("bearer")
    request_lookup(api, email)

    assert_problem(api.get("/users/me", token=lookup_token(stack, email)), 401)


def test_request_lookup_sixth_time_for_one_email_returns_202_without_new_mail(api, stack):
    # The limit counts per 15-minute window: if one boundary fell inside the attempt, try again (the next is
    # 900 s away, so a second attempt cannot straddle one).
    for _attempt in range(2):
        email, window = unique_email("often"), int(time.time()) // LOOKUP_WINDOW_SECONDS
        answers = [request_lookup(api, email) for _ in range(MAX_LOOKUPS_PER_EMAIL)]
        poll(lambda: len(mail_to(stack.base_url, email)) == MAX_LOOKUPS_PER_EMAIL, timeout=10,
             what="five lookup mails")

        sixth = request_lookup(api, email)

        if int(time.time()) // LOOKUP_WINDOW_SECONDS == window:
            break
    assert sixth == answers[0]
    # A lookup's mail is sent before its 202 answers, so a sixth mail would already be listed.
    assert len(mail_to(stack.base_url, email)) == MAX_LOOKUPS_PER_EMAIL
