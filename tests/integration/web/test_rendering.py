"""What every page rests on: the files served by the local stack, the campaign list, and text from the API shown
as text (campaign titles and descriptions are user input)."""

from __future__ import annotations

import requests

XSS_TITLE = "<img src=x onerror=alert(1)>"
XSS_DESCRIPTION = "<script>window.__injected = 1</script><b onmouseover=alert(2)>bold?</b>"


def test_stack_serves_web_app_at_root_and_keeps_api_paths(stack):
    page = requests.get(f"{stack.base_url}/", timeout=10)
    script = requests.get(f"{stack.base_url}/app/main.js", timeout=10)
    campaigns = requests.get(f"{stack.base_url}/campaigns", timeout=10)

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<script type="module" src="app/main.js">' in page.text
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert script.headers["Cache-Control"] == "no-cache"
    assert campaigns.status_code == 200 and "items" in campaigns.json()


def test_campaign_list_shows_active_campaigns_with_progress_bars(browser, api, admin_token, create_campaign,
                                                                create_pledge):
    closed = create_campaign(title="Closed campaign")
    assert api.patch(f"/campaigns/{closed['id']}", token=admin_token, json={"status": "CANCELLED"}).status_code == 200
    shown = create_campaign(title="Open campaign", goal_amount="400.00")

    browser.open("/")
    card = browser.element(f".campaign-card[data-campaign-id='{shown['id']}']")

    assert "Open campaign" in card.text and "raised of $400.00" in card.text
    assert card.find_element("css selector", "[role=progressbar]").get_attribute("aria-valuenow") == "0"
    assert not browser.elements(f".campaign-card[data-campaign-id='{closed['id']}']")
    browser.screenshot("campaign-list")


def test_campaign_title_with_html_renders_as_text_on_list_and_campaign_page(browser, create_campaign):
    from selenium.common.exceptions import NoAlertPresentException

    campaign = create_campaign(title=XSS_TITLE, description=XSS_DESCRIPTION)

    browser.open("/")
    link = browser.element(f".campaign-card[data-campaign-id='{campaign['id']}'] .campaign-link")
    assert link.text == XSS_TITLE
    browser.open(f"/campaigns/{campaign['id']}")
    browser.element("#donate-form")

    assert browser.text("#campaign-title") == XSS_TITLE
    assert browser.text("#campaign-description") == XSS_DESCRIPTION
    assert not browser.elements("main img, main script, main b")
    assert browser.script("return window.__injected") is None
    try:
        alert = browser.driver.switch_to.alert
        text = alert.text
        alert.dismiss()
        raise AssertionError(f"an alert ran: {text}")
    except NoAlertPresentException:
        pass


def test_unknown_route_shows_not_found_with_way_back(browser):
    browser.open("/no/such/page")

    assert "Page not found" in browser.text("main h1")
    assert browser.element("main a[href='#/']")
