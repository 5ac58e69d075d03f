// Pieces several pages show: the progress bar, status badges, lists of pledges, "load more".
import {h, replace} from "./dom.js";
import {money, percent, when} from "./format.js";

/** A progress bar and its amounts; returns {el, set(total, goal, currency, count?)}. */
export function progress({total, goal, currency, count = null, idPrefix = ""}) {
  const id = (name) => (idPrefix ? `${idPrefix}-${name}` : null);
  const bar = h("div", {class: "progress-bar", id: id("bar")});
  const track = h("div", {class: "progress", role: "progressbar", id: id("progress"), "aria-valuemin": 0,
                          "aria-valuemax": 100, "aria-label": "Raised towards the goal"}, bar);
  const raised = h("strong", {class: "raised", id: id("raised")});
  const goalText = h("span", {class: "goal", id: id("goal")});
  const countText = h("span", {class: "pledge-count", id: id("count")});
  const el = h("div", {class: "progress-block"}, track,
    h("p", {class: "amounts"}, raised, " raised of ", goalText, count === null ? null : [" · ", countText]));

  function set(nextTotal, nextGoal, nextCurrency = currency, nextCount = count) {
    const value = percent(nextTotal, nextGoal);
    bar.style.width = `${value}%`;
    track.setAttribute("aria-valuenow", String(value));
    track.setAttribute("aria-valuetext", `${money(nextTotal, nextCurrency)} of ${money(nextGoal, nextCurrency)}`);
    raised.textContent = money(nextTotal, nextCurrency);
    goalText.textContent = money(nextGoal, nextCurrency);
    if (nextCount !== null) countText.textContent = `${nextCount} ${nextCount === 1 ? "donation" : "donations"}`;
  }

  set(total, goal, currency, count);
  return {el, set};
}

export function badge(status) {
  return h("span", {class: `badge badge-${String(status).toLowerCase()}`, dataset: {status}}, status);
}

/** A table of pledges (amount, campaign, status, payment, date). */
export function pledgeTable(pledges, {showDonor = false, campaignLink = true} = {}) {
  if (!pledges.length) return h("p", {class: "muted empty"}, "No donations yet.");
  return h("div", {class: "table-wrap"}, h("table", {class: "pledges"},
    h("thead", {}, h("tr", {},
      h("th", {scope: "col"}, "Amount"),
      showDonor ? h("th", {scope: "col"}, "Donor") : null,
      campaignLink ? h("th", {scope: "col"}, "Campaign") : null,
      h("th", {scope: "col"}, "Status"),
      h("th", {scope: "col"}, "Date"))),
    h("tbody", {}, pledges.map((p) => h("tr", {class: "pledge-row", dataset: {pledgeId: p.id}},
      h("td", {}, money(p.amount, p.currency)),
      showDonor ? h("td", {}, p.donor_name ? `${p.donor_name} (${p.donor_email})` : p.donor_email) : null,
      campaignLink ? h("td", {}, h("a", {href: `#/campaigns/${encodeURIComponent(p.campaign_id)}`},
        p.campaign_title || "View campaign")) : null,
      h("td", {}, badge(p.status)),
      h("td", {}, when(p.created_at)))))));
}

/**
 * A list fed page by page from a `{items, next_cursor}` endpoint: `load(cursor)` returns a page.
 * Renders into `container` with `render(allItems)`; shows "Load more" while there is a next cursor.
 */
export function pagedList(container, load, render, {onError} = {}) {
  const items = [];
  const body = h("div", {class: "paged-body"});
  const more = h("button", {type: "button", class: "secondary load-more", hidden: true}, "Load more");
  const status = h("p", {class: "muted", "aria-live": "polite"});
  replace(container, body, status, more);
  let cursor = null;

  async function next() {
    more.disabled = true;
    status.textContent = "Loading…";
    try {
      const page = await load(cursor);
      items.push(...(page.items || []));
      cursor = page.next_cursor || null;
      replace(body, render(items));
      status.textContent = "";
      more.hidden = !cursor;
    } catch (error) {
      status.textContent = "";
      if (onError) onError(error);
      else replace(body, h("p", {class: "error-message", role: "alert"}, error.message));
    } finally {
      more.disabled = false;
    }
  }

  more.addEventListener("click", next);
  return {ready: next(), items};
}
