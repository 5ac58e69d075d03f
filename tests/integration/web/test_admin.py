"""Admins: sign in, create, edit, cancel a campaign, and watch one (totals, pledges by status, payments)."""

from __future__ import annotations

import uuid

from selenium.webdriver.support.ui import Select


def sign_in_as_admin(browser, stack) -> None:
    browser.open("/login")
    browser.fill({"email": stack.admin_email, "password": stack.admin_password}, within="#login-form")
    browser.element("#login-form button[type=submit]").click()
    browser.wait_for(lambda d: d.current_url.endswith("#/admin"), what="the admin list after signing in")
    browser.wait_for_text("#nav", "Admin")


def test_admin_signs_in_creates_and_cancels_campaign_which_then_refuses_donations(browser, stack, api):
    title = f"Night shelter {uuid.uuid4().hex[:6]}"
    sign_in_as_admin(browser, stack)

    browser.element("#new-campaign").click()
    browser.fill({"title": title, "description": "Beds for the winter.", "goal_amount": "5000.00"},
                 within="#campaign-form")
    browser.element("#save-campaign").click()
    browser.wait_for_text("#campaign-title", title)
    campaign_id = browser.driver.current_url.rsplit("/", 1)[-1]
    assert api.get(f"/campaigns/{campaign_id}").json()["status"] == "ACTIVE"
    browser.fill({"goal_amount": "6000.00"}, within="#campaign-form")
    browser.element("#save-campaign").click()
    browser.wait_for_text("#campaign-form .success", "Saved")
    assert api.get(f"/campaigns/{campaign_id}").json()["goal_amount"] == "6000.00"

    browser.element("#cancel-campaign").click()
    assert "cannot be undone" in browser.text("#confirm-text")
    browser.element("#confirm-status").click()
    browser.wait_for_text("#campaign-status", "CANCELLED")

    assert api.get(f"/campaigns/{campaign_id}").json()["status"] == "CANCELLED"
    browser.open("/admin")
    row = browser.element(f"tr[data-campaign-id='{campaign_id}']")
    assert row.find_element("css selector", ".status-cell").text == "CANCELLED"
    browser.screenshot("admin-list")
    browser.open(f"/campaigns/{campaign_id}")
    assert "no longer accepts donations" in browser.text("#not-accepting")
    assert not browser.elements("#donate-form")


def test_admin_keeps_campaign_when_confirm_step_is_declined(browser, api, admin_token, admin_user,
                                                            create_campaign):
    campaign = create_campaign()
    browser.sign_in(admin_token, admin_user)
    browser.open(f"/admin/campaigns/{campaign['id']}")

    browser.element("#complete-campaign").click()
    browser.element("#keep-campaign").click()

    assert browser.element("#cancel-campaign")
    assert api.get(f"/campaigns/{campaign['id']}").json()["status"] == "ACTIVE"


def test_admin_monitoring_view_shows_live_totals_pledges_by_status_and_payment_history(
        browser, api, admin_token, admin_user, session_client, create_campaign):
    campaign = create_campaign(goal_amount="100.00")
    done = session_client.create_pledge(campaign["id"], amount="20.00")
    declined = session_client.create_pledge(campaign["id"], amount="5.00", payment_method="pm_card_chargeDeclined")
    session_client.wait_for_pledge(done["id"], lambda p: p["status"] == "COMPLETED", timeout=90, what="completion")
    session_client.wait_for_pledge(declined["id"], lambda p: p["status"] == "FAILED", timeout=90, what="failure")
    browser.sign_in(admin_token, admin_user)

    browser.open(f"/admin/campaigns/{campaign['id']}")
    browser.wait_for_text("#monitor-raised", "$20.00")
    listing = api.get(f"/campaigns/{campaign['id']}/pledges", token=admin_token)

    if listing.status_code == 200:
        browser.wait_for(lambda d: len(browser.elements("#recent-payments .payment")) == 2,
                         what="both payments with their histories")
        counts = {s: browser.text(f"#status-counts li[data-status='{s}'] .count") for s in ("PENDING", "COMPLETED",
                                                                                               "FAILED")}
        assert counts == {"PENDING": "0", "COMPLETED": "1", "FAILED": "1"}
        assert "newest 2 pledges loaded" in browser.text("#counts-scope")
        payment_id = session_client.wait_for_payment_id(done["id"])
        history = browser.text(f"#recent-payments .payment[data-payment-id='{payment_id}']")
        assert "PENDING → AUTHORIZED" in history and "→ COMPLETED" in history
        Select(browser.element("#pledge-filter")).select_by_value("FAILED")
        browser.wait_for(lambda d: len(browser.elements("#monitor-pledges tr.pledge-row")) == 1,
                         what="the FAILED filter")
        assert declined["id"] == browser.attribute("#monitor-pledges tr.pledge-row", "data-pledge-id")
        Select(browser.element("#pledge-filter")).select_by_value("")
        browser.wait_for(lambda d: len(browser.elements("#monitor-pledges tr.pledge-row")) == 2, what="all again")
    else:  # not there yet: said so, and the rest of the view still works
        assert listing.status_code in (403, 404), listing.text
        assert "not available" in browser.element("#pledges-unavailable").text
    assert browser.attribute("#monitor-progress", "aria-valuenow") == "20"
    browser.screenshot("admin-monitoring")


def test_admin_pages_ask_donor_to_use_an_admin_account(browser, donor):
    browser.sign_in(donor["token"], donor["user"])

    browser.open("/admin")

    assert "for ADMIN accounts" in browser.text("main")
    assert "Admin" not in browser.text("#nav")
