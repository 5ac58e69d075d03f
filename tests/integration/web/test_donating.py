"""Donors on a campaign page: a donation followed live to the end, the progress bar moving without a reload, and
never a second pledge from a double click or a lost answer."""

from __future__ import annotations

import uuid

from tests.integration.helpers import poll, unique_email

RECORD_STATUSES = """
window.__statuses = [];
window.__notReloaded = true;
new MutationObserver(() => {
  const el = document.getElementById('pledge-status');
  const status = el && el.dataset.status;
  if (status && window.__statuses[window.__statuses.length - 1] !== status) window.__statuses.push(status);
}).observe(document.getElementById('main'), {subtree: true, childList: true, attributes: true});
"""

# Wraps fetch to note every pledge POST's Idempotency-Key; with arguments[0] the first answer is "lost" after the
# API received the request (the app sees a network error, as when a connection drops mid-response).
RECORD_PLEDGE_POSTS = """
const loseFirst = arguments[0];
const realFetch = window.fetch.bind(window);
window.__pledgePosts = [];
window.fetch = async (url, init = {}) => {
  if (init.method === 'POST' && /\\/campaigns\\/[^/]+\\/pledges$/.test(new URL(url, location.href).pathname)) {
    window.__pledgePosts.push(init.headers['Idempotency-Key']);
    const response = await realFetch(url, init);
    if (loseFirst && window.__pledgePosts.length === 1) throw new TypeError('Failed to fetch');
    return response;
  }
  return realFetch(url, init);
};
"""

# Notes when each WebSocket the app opens from now on is open and closed (performance.now(), as Resource Timing's).
RECORD_SOCKETS = """
const RealSocket = window.WebSocket;
window.__sockets = [];
window.WebSocket = class extends RealSocket {
  constructor(url, ...rest) {
    super(url, ...rest);
    const noted = {url: String(url), openedAt: null, closedAt: null};
    window.__sockets.push(noted);
    this.addEventListener('open', () => { noted.openedAt = performance.now(); });
    this.addEventListener('close', () => { noted.closedAt = performance.now(); });
  }
};
"""
# From now on the pledge's socket is opened with a wrong receipt token: the API refuses its handshake (401).
REFUSE_PLEDGE_SOCKETS = """
const RealSocket = window.WebSocket;
window.WebSocket = class extends RealSocket {
  constructor(url, ...rest) {
    super(String(url).replace(/receipt_token=[^&]*/, 'receipt_token=not-the-token'), ...rest);
  }
};
"""
# Every fetch the page made since it loaded (the app calls the API with fetch only): path and start time.
API_FETCHES = """
return performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'fetch')
  .map((e) => ({path: new URL(e.name).pathname, search: new URL(e.name).search, at: e.startTime}));
"""


def bar_state(browser) -> dict:
    return browser.script("""
        const track = document.getElementById('campaign-progress');
        return {value: track.getAttribute('aria-valuenow'), width: document.getElementById('campaign-bar').style.width,
                raised: document.getElementById('campaign-raised').textContent,
                count: document.getElementById('campaign-count').textContent};""")


def my_pledges(api, token: str) -> list[dict]:
    response = api.get("/users/me/pledges", token=token)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_guest_donates_on_campaign_page_sees_pledge_complete_and_progress_bar_move(browser, create_campaign):
    campaign = create_campaign(goal_amount="100.00")
    email = unique_email("web-guest")
    browser.open(f"/campaigns/{campaign['id']}")
    browser.wait_for_text("#live-status", "Live")
    before = bar_state(browser)
    browser.script(RECORD_STATUSES)

    browser.donate("25.00", email=email, name="Gina Guest")
    pledge_id = browser.wait_for_pledge_status("COMPLETED")
    browser.wait_for(lambda d: bar_state(browser)["raised"] == "$25.00", timeout=30,
                     what="the progress bar's amount to move to $25.00")

    after = bar_state(browser)
    assert before == {"value": "0", "width": "0%", "raised": "$0.00", "count": "0 donations"}
    assert after == {"value": "25", "width": "25%", "raised": "$25.00", "count": "1 donation"}
    statuses = browser.script("return window.__statuses")
    assert statuses[0] == "PENDING" and statuses[-1] == "COMPLETED", statuses
    assert browser.script("return window.__notReloaded") is True  # the page was never reloaded
    assert "Your payment went through" in browser.text("#pledge-detail")
    receipts = browser.storage_json("careforall.receipts")
    assert [r["pledge_id"] for r in receipts] == [pledge_id] and receipts[0]["receipt_token"]
    browser.screenshot("campaign-after-donation")


def test_donation_made_elsewhere_moves_open_campaign_page_progress_live(browser, create_campaign, create_pledge):
    campaign = create_campaign(goal_amount="200.00")
    browser.open(f"/campaigns/{campaign['id']}")
    browser.wait_for_text("#live-status", "Live")
    browser.script("window.__notReloaded = true;")

    assert create_pledge(campaign["id"], amount="50.00").status_code == 201

    browser.wait_for(lambda d: bar_state(browser)["value"] == "25", timeout=60,
                     what="the totals.updated push to move the bar")
    assert bar_state(browser) == {"value": "25", "width": "25%", "raised": "$50.00", "count": "1 donation"}
    assert browser.script("return window.__notReloaded") is True


def test_double_click_donate_signed_in_makes_exactly_one_pledge(browser, api, donor, create_campaign):
    campaign = create_campaign()
    browser.sign_in(donor["token"], donor["user"])
    browser.open(f"/campaigns/{campaign['id']}")
    browser.fill({"amount": "7.00"}, within="#donate-form")
    browser.script(RECORD_PLEDGE_POSTS, False)

    browser.script("""const button = document.getElementById('donate-button');
                      button.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));
                      button.dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}));""")
    browser.wait_for_pledge_status("COMPLETED")

    pledges = my_pledges(api, donor["token"])
    assert [p["campaign_id"] for p in pledges] == [campaign["id"]]
    assert [p["amount"] for p in pledges] == ["7.00"]
    assert len(set(browser.script("return window.__pledgePosts"))) == 1
    assert len(browser.elements("#pledge-result")) == 1
    assert browser.text("#pledge-id") == pledges[0]["id"]


def test_double_click_donate_as_guest_with_action_chains_makes_exactly_one_pledge(browser, api, admin_token,
                                                                                   create_campaign):
    from selenium.webdriver.common.action_chains import ActionChains

    campaign = create_campaign(goal_amount="100.00")
    browser.open(f"/campaigns/{campaign['id']}")
    browser.fill({"amount": "10.00", "donor_email": unique_email("web-double")}, within="#donate-form")
    browser.script(RECORD_PLEDGE_POSTS, False)

    ActionChains(browser.driver).double_click(browser.element("#donate-button")).perform()
    pledge_id = browser.wait_for_pledge_status("COMPLETED")

    totals = poll(lambda: (lambda t: t if t["pledge_count"] else None)(
        api.get(f"/campaigns/{campaign['id']}/totals").json()), timeout=30, what="the pledge counted in the totals")
    assert (totals["pledge_count"], totals["total_amount"]) == (1, "10.00")
    listing = api.get(f"/campaigns/{campaign['id']}/pledges", token=admin_token)
    if listing.status_code == 200:  # every pledge of the campaign, PENDING ones included
        assert [p["id"] for p in listing.json()["items"]] == [pledge_id]
    assert len(browser.script("return window.__pledgePosts")) == 1
    assert len(browser.elements("#pledge-result")) == 1


def test_guest_donation_with_pledge_socket_open_polls_nothing_and_makes_3_api_requests(browser, create_campaign):
    campaign = create_campaign(goal_amount="100.00")
    path = f"/campaigns/{campaign['id']}"
    browser.open(path)
    browser.wait_for_text("#live-status", "Live")
    browser.script(RECORD_SOCKETS)

    browser.donate("20.00", email=unique_email("web-push"))
    pledge_id = browser.wait_for_pledge_status("COMPLETED")
    browser.wait_for(lambda d: bar_state(browser)["raised"] == "$20.00", timeout=30, what="the pushed totals")
    browser.wait_for(lambda d: d.execute_script("return window.__sockets.every((s) => s.closedAt !== null)"),
                     what="the pledge's socket to close once the pledge is final")

    [socket] = browser.script("return window.__sockets")
    assert f"pledge_id={pledge_id}" in socket["url"] and "receipt_token=" in socket["url"]
    assert socket["openedAt"] is not None, "the pledge's socket never opened"
    fetches = browser.script(API_FETCHES)
    polls = [f for f in fetches if f["path"] == f"/pledges/{pledge_id}"]
    assert [p for p in polls if socket["openedAt"] <= p["at"] <= socket["closedAt"]] == []  # none while connected
    assert [p for p in polls if p["at"] > socket["closedAt"]] == []  # none after the push said COMPLETED
    others = [f["path"] for f in fetches if f not in polls]
    assert others == [path, f"{path}/totals", f"{path}/pledges"], others
    print(f"\nAPI requests for one guest donation: {len(fetches)} ({len(polls)} polls before the socket opened)")


def test_guest_donation_with_pledge_socket_refused_falls_back_to_polling(browser, create_campaign):
    campaign = create_campaign()
    browser.open(f"/campaigns/{campaign['id']}")
    browser.wait_for_text("#live-status", "Live")
    browser.script(REFUSE_PLEDGE_SOCKETS)

    browser.donate("7.00", email=unique_email("web-fallback"))
    pledge_id = browser.wait_for_pledge_status("COMPLETED")

    polls = [f for f in browser.script(API_FETCHES) if f["path"] == f"/pledges/{pledge_id}"]
    assert polls and all("receipt_token=" in p["search"] for p in polls)


def test_donate_with_lost_answer_retries_same_idempotency_key_and_makes_one_pledge(browser, api, donor,
                                                                                   create_campaign):
    campaign = create_campaign()
    browser.sign_in(donor["token"], donor["user"])
    browser.open(f"/campaigns/{campaign['id']}")
    browser.script(RECORD_PLEDGE_POSTS, True)

    browser.donate("12.00")
    pledge_id = browser.wait_for_pledge_status("COMPLETED")

    keys = browser.script("return window.__pledgePosts")
    assert len(keys) == 2 and keys[0] == keys[1], keys  # the retry sent the attempt's own key again
    assert [p["id"] for p in my_pledges(api, donor["token"])] == [pledge_id]


def test_donate_with_three_decimal_amount_shows_field_message_from_422(browser, create_campaign):
    campaign = create_campaign()
    browser.open(f"/campaigns/{campaign['id']}")

    browser.donate("10.123", email=unique_email("web-422"))
    message = browser.wait_for_text(".field[data-field='amount'] .field-error", "two fraction digits")

    assert "at most two fraction digits" in message
    assert browser.attribute(".field[data-field='amount'] input", "aria-invalid") == "true"
    assert "Some details need correcting" in browser.text("#donate-error .error-message")
    assert browser.text("#donate-error .correlation-id")  # the reference for support
    assert browser.attribute("#donate-form fieldset", "disabled") is None  # a definitive answer: editable again

    browser.fill({"amount": "10.12"}, within="#donate-form")
    browser.element("#donate-button").click()
    browser.element("#pledge-result")
    assert browser.text("#pledge-amount") == "$10.12"


def test_donate_on_campaign_cancelled_meanwhile_shows_not_accepting_message(browser, api, admin_token,
                                                                           create_campaign):
    campaign = create_campaign()
    browser.open(f"/campaigns/{campaign['id']}")
    browser.element("#donate-form")
    cancelled = api.patch(f"/campaigns/{campaign['id']}", token=admin_token, json={"status": "CANCELLED"})
    assert cancelled.status_code == 200, cancelled.text

    browser.donate("5.00", email=unique_email("web-409"))

    browser.wait_for_text("main .error-message", "not accepting donations")
    assert browser.elements("#not-accepting") and not browser.elements("#donate-form")


def test_campaign_page_at_phone_width_has_no_horizontal_overflow(browser, create_campaign):
    long_word = "Waterwellsforeveryvillage" * 4
    campaign = create_campaign(title=f"Clean water {long_word}", description=f"{long_word} {uuid.uuid4()}")
    browser.phone()
    browser.open(f"/campaigns/{campaign['id']}")
    browser.element("#donate-form")

    scroll_width, inner_width = browser.no_horizontal_overflow()

    assert inner_width == 375
    assert scroll_width <= inner_width, f"the page is {scroll_width} px wide in a {inner_width} px viewport"
    browser.screenshot("campaign-phone")
    browser.open("/")
    scroll_width, inner_width = browser.no_horizontal_overflow()
    assert scroll_width <= inner_width, f"the campaign list is {scroll_width} px wide at {inner_width} px"


def test_pledge_status_poll_reaches_failed_for_declined_card(browser, create_campaign):
    campaign = create_campaign()
    browser.open(f"/campaigns/{campaign['id']}")

    browser.donate("3.00", email=unique_email("web-declined"), method="pm_card_chargeDeclined")

    browser.wait_for_pledge_status("FAILED")
    assert "did not go through" in browser.text("#pledge-detail")
    assert browser.text("#campaign-raised") == "$0.00"
