"""Signing in and out, a donor's own donations, and a guest finding theirs through the emailed link."""

from __future__ import annotations

import re

from tests.integration.helpers import mail_to, poll, unique_email

LINK = re.compile(r"https?://\S+/#/donations\?token=[A-Za-z0-9._~-]+")


def test_sign_in_with_bad_password_shows_clear_message(browser, donor):
    browser.open("/login")
    browser.screenshot("sign-in")

    browser.fill({"email": donor["email"], "password": "not-the-password"}, within="#login-form")
    browser.element("#login-form button[type=submit]").click()

    message = browser.wait_for_text("#login-form .error-message", "wrong")
    assert message == "The email or password is wrong."
    assert browser.text("#login-form .correlation-id")
    assert browser.storage("careforall.token") is None
    assert "Sign in" in browser.text("#nav")


def test_register_with_short_password_shows_field_message(browser):
    browser.open("/register")

    browser.fill({"name": "Short Pw", "email": unique_email("web-short"), "password": "short"}, within="#register-form")
    browser.element("#register-form button[type=submit]").click()

    message = browser.wait_for_text(".field[data-field='password'] .field-error", "at least 8")
    assert "8" in message


def test_signed_in_donor_sees_donation_under_my_donations(browser, api, create_campaign):
    campaign = create_campaign(title="Books for the library")
    email, name = unique_email("web-donor"), "Dora Donor"
    browser.open("/register")
    browser.fill({"name": name, "email": email, "password": "correct horse battery"}, within="#register-form")
    browser.element("#register-form button[type=submit]").click()
    browser.wait_for_text("#nav .signed-in-as", name)
    assert browser.storage("careforall.token")

    browser.open(f"/campaigns/{campaign['id']}")
    assert email in browser.text(".donating-as")
    browser.donate("15.00")
    pledge_id = browser.wait_for_pledge_status("COMPLETED")
    browser.open("/me/donations")
    row = browser.element(f"#my-donations tr[data-pledge-id='{pledge_id}']")

    assert "$15.00" in row.text and "Books for the library" in row.text and "COMPLETED" in row.text
    assert len(browser.elements("#my-donations tr.pledge-row")) == 1
    browser.screenshot("my-donations")
    browser.element("#sign-out").click()
    browser.wait_for_text("#nav", "Sign in")
    assert browser.storage("careforall.token") is None


def test_expired_token_signs_out_with_clear_message(browser):
    browser.sign_in("not.a.valid-token", {"id": "x", "email": "old@example.com", "name": "Old", "role": "DONOR"})

    browser.open("/me/donations")

    browser.wait_for_text("main .error-message", "Please sign in again")
    assert browser.storage("careforall.token") is None


def test_guest_finds_donations_through_emailed_link_which_lists_the_pledge(browser, stack, create_campaign):
    campaign = create_campaign(title="Warm coats")
    email = unique_email("web-find")
    browser.open(f"/campaigns/{campaign['id']}")
    browser.donate("8.00", email=email)
    pledge_id = browser.wait_for_pledge_status("COMPLETED")

    browser.open("/find")
    assert browser.element(f"#device-donations tr[data-pledge-id='{pledge_id}']")  # kept on this device
    browser.fill({"email": email}, within="#lookup-form")
    browser.element("#lookup-form button[type=submit]").click()
    sent = browser.wait_for_text("#lookup-sent", "we emailed a link")
    links = poll(lambda: [m for mail in mail_to(stack.base_url, email) for m in LINK.findall(mail["text"])],
                 timeout=20, what="the lookup email with its link")
    browser.driver.get("about:blank")
    browser.driver.get(links[-1])
    row = browser.element(f"#guest-donations tr[data-pledge-id='{pledge_id}']")

    assert sent.startswith("If there are donations made with this address")
    assert links[-1].startswith(f"{stack.base_url}/#/donations?token=")  # the web app of this stack
    assert "$8.00" in row.text and "Warm coats" in row.text and "COMPLETED" in row.text


def test_guest_lookup_for_address_without_donations_says_the_same(browser):
    browser.open("/find")
    browser.fill({"email": unique_email("web-nobody")}, within="#lookup-form")
    browser.element("#lookup-form button[type=submit]").click()

    assert browser.wait_for_text("#lookup-sent", "we emailed a link").startswith(
        "If there are donations made with this address")


def test_guest_donations_link_with_bad_token_says_link_is_invalid(browser):
    browser.open("/donations?token=not-a-token")

    browser.wait_for_text("#guest-donations .error-message", "invalid or has expired")
    assert browser.element("#guest-donations a[href='#/find']")
