// #/campaigns/<id> : a campaign, its totals live over the WebSocket, and the donate form.
import {api, session} from "../api.js";
import {errorBox, field, h, replace, showFieldErrors} from "../dom.js";
import {badge, progress} from "../components.js";
import {DonationAttempt, followPledge, isTerminal, receipts} from "../donation.js";
import {connectLive} from "../live.js";
import {money} from "../format.js";

const PAYMENT_METHODS = [["pm_card_visa", "Visa (succeeds)"], ["pm_card_chargeDeclined", "Declined card"]];
const CLOSED_TEXT = {
  COMPLETED: "This campaign is completed: it no longer accepts donations. Thank you to everyone who gave.",
  CANCELLED: "This campaign was cancelled: it no longer accepts donations.",
};

export default async function campaignPage(ctx) {
  const [id] = ctx.params;
  const path = `/campaigns/${encodeURIComponent(id)}`;
  const campaign = await api.get(path);
  let totals = {total_amount: campaign.current_amount, pledge_count: null, goal_amount: campaign.goal_amount,
                currency: campaign.currency, updated_at: ""};
  try {
    totals = await api.get(`${path}/totals`);
  } catch {
    // the campaign's own current_amount is shown instead
  }
  if (!ctx.alive) return;

  const bar = progress({total: totals.total_amount, goal: totals.goal_amount, currency: campaign.currency,
                        count: totals.pledge_count ?? 0, idPrefix: "campaign"});
  const liveStatus = h("p", {class: "live-status muted", id: "live-status", "aria-live": "polite"}, "Connecting…");
  const donateArea = h("section", {class: "donate card", "aria-labelledby": "donate-heading"});
  const trackers = new Map();  // pledge id -> followPledge(...)

  function applyTotals(next) {
    if (next.updated_at && totals.updated_at && next.updated_at < totals.updated_at) return;  // an older push
    totals = {...totals, ...next};
    bar.set(totals.total_amount, totals.goal_amount ?? campaign.goal_amount, campaign.currency, totals.pledge_count ?? 0);
  }

  async function refreshTotals() {
    try {
      applyTotals(await api.get(`${path}/totals`));
    } catch {
      // live pushes keep coming; the next refresh tries again
    }
  }

  const live = connectLive({
    campaignId: id,
    token: session.token,
    onMessage(message) {
      if (message.type === "totals.updated" && message.campaign_id === id) applyTotals(message);
      if (message.type === "pledge.updated") trackers.get(message.pledge_id)?.push(message);
    },
    onStatus(state) {
      liveStatus.textContent = state === "live" ? "Live: totals update as donations arrive." : "Reconnecting…";
    },
    onReconnect: refreshTotals,
  });
  ctx.onLeave(() => live.close());
  ctx.onLeave(() => trackers.forEach((tracker) => tracker.stop()));

  function totalsAfterDonation() {
    if (live.open) return;  // the socket pushes totals.updated; without it, read them now and again shortly
    refreshTotals();
    const later = setTimeout(refreshTotals, 3000);
    ctx.onLeave(() => clearTimeout(later));
  }

  replace(ctx.main,
    h("p", {class: "breadcrumb"}, h("a", {href: "#/"}, "← All campaigns"),
      session.isAdmin ? [" · ", h("a", {href: `#/admin/campaigns/${encodeURIComponent(id)}`}, "Manage")] : null),
    h("article", {class: "campaign"},
      h("h1", {id: "campaign-title"}, campaign.title),
      campaign.status !== "ACTIVE" ? h("p", {}, badge(campaign.status)) : null,
      h("p", {class: "description", id: "campaign-description"}, campaign.description),
      h("section", {class: "card totals", "aria-label": "Progress"}, bar.el, liveStatus)),
    donateArea);

  if (campaign.status !== "ACTIVE") {
    closed(donateArea, campaign.status);
    return;
  }
  donateForm(ctx, campaign, donateArea, trackers, totalsAfterDonation);
}

function closed(area, status) {
  replace(area, h("p", {class: "closed", id: "not-accepting", role: "status"},
    CLOSED_TEXT[status] || "This campaign is not accepting donations."));
}

function donateForm(ctx, campaign, area, trackers, totalsAfterDonation) {
  const signedIn = Boolean(session.token);
  const user = session.user;
  const fields = h("fieldset", {class: "fields"},
    h("legend", {class: "visually-hidden"}, "Your donation"),
    field({label: `Amount (${campaign.currency})`, name: "amount", inputmode: "decimal", autocomplete: "off",
           placeholder: "25.00", required: true}),
    signedIn
      ? h("p", {class: "muted donating-as"}, "Donating as ", h("strong", {}, user?.email || "you"))
      : field({label: "Your email (for the receipt)", name: "donor_email", type: "email", autocomplete: "email",
               required: true}),
    field({label: "Name to show (optional)", name: "donor_name", autocomplete: "name",
           value: signedIn ? user?.name || "" : ""}),
    field({label: "Message (optional)", name: "message", type: "textarea", rows: 3, maxlength: 500}),
    field({label: "Payment method", name: "payment_method", type: "select", options: PAYMENT_METHODS,
           value: "pm_card_visa", hint: "This is the sandbox: no real money moves."}));
  const button = h("button", {type: "submit", id: "donate-button"}, "Donate");
  const startOver = h("button", {type: "button", class: "secondary", id: "start-over", hidden: true}, "Start over");
  const note = h("p", {class: "muted retry-note", id: "retry-note", hidden: true},
    "Trying again sends the same donation: it is never made twice.");
  const errorSlot = h("div", {id: "donate-error", "aria-live": "assertive"});
  const form = h("form", {id: "donate-form", novalidate: true}, fields, errorSlot, note,
    h("div", {class: "actions"}, button, startOver));
  replace(area, h("h2", {id: "donate-heading"}, "Donate"), form);

  let attempt = null;      // the open attempt: its key is reused until a definitive answer
  let submitting = false;  // set before the first await, so a second click does nothing

  function unlock() {
    attempt = null;
    fields.disabled = false;
    button.textContent = "Donate";
    startOver.hidden = true;
    note.hidden = true;
  }

  startOver.addEventListener("click", () => {
    unlock();
    replace(errorSlot);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (submitting) return;
    submitting = true;
    button.disabled = true;
    if (!attempt) attempt = new DonationAttempt(campaign.id, formBody(form, signedIn));
    fields.disabled = true;
    button.textContent = "Donating…";
    replace(errorSlot);
    showFieldErrors(form, {});
    try {
      const {pledge} = await attempt.send();
      attempt = null;
      if (!ctx.alive) return;
      if (!signedIn) receipts.add(pledge, campaign.title);
      showResult(ctx, campaign, area, pledge, trackers, totalsAfterDonation);
    } catch (error) {
      if (!ctx.alive) return;
      if (error.retryable) {
        fields.disabled = true;  // the same body goes again with the same key
        button.textContent = "Try again";
        startOver.hidden = false;
        note.hidden = false;
      } else {
        unlock();
      }
      if (error.kind === "campaign-not-active") {
        closed(area, "CLOSED");
        area.prepend(errorBox(error));
        return;
      }
      showFieldErrors(form, error.fieldErrors);
      replace(errorSlot, errorBox(error), unmatchedFieldErrors(form, error.fieldErrors));
    } finally {
      submitting = false;
      button.disabled = false;
    }
  });
}

function formBody(form, signedIn) {
  const data = new FormData(form);
  const text = (name) => String(data.get(name) ?? "").trim();
  const body = {amount: text("amount"), payment_method: text("payment_method") || "pm_card_visa"};
  if (!signedIn) body.donor_email = text("donor_email");
  if (text("donor_name")) body.donor_name = text("donor_name");
  if (text("message")) body.message = text("message");
  return body;
}

/** Field messages of a 422 for fields this form does not show (e.g. the body as a whole). */
function unmatchedFieldErrors(form, fieldErrors = {}) {
  const shown = new Set([...form.querySelectorAll(".field")].map((el) => el.dataset.field));
  const rest = Object.entries(fieldErrors).filter(([name]) => !shown.has(name));
  return rest.length ? h("ul", {class: "error-list"}, rest.map(([name, msg]) => h("li", {}, `${name}: ${msg}`))) : null;
}

const STATUS_TEXT = {
  PENDING: "We are processing your payment…",
  COMPLETED: "Your payment went through. A receipt is on its way by email.",
  FAILED: "The payment did not go through (the card was declined). Nothing was charged.",
};

function showResult(ctx, campaign, area, pledge, trackers, totalsAfterDonation) {
  const statusBadge = h("span", {id: "pledge-status", class: "badge", dataset: {status: pledge.status}});
  const detail = h("p", {id: "pledge-detail"});
  const payment = h("p", {class: "muted", id: "pledge-payment"});
  const again = h("button", {type: "button", class: "secondary", id: "donate-again"}, "Make another donation");

  function render(p) {
    statusBadge.textContent = p.status;
    statusBadge.dataset.status = p.status;
    statusBadge.className = `badge badge-${p.status.toLowerCase()}`;
    detail.textContent = STATUS_TEXT[p.status] || "";
    payment.textContent = p.payment?.state ? `Payment: ${p.payment.state}` : "";
  }

  replace(area,
    h("div", {id: "pledge-result", class: "result", role: "status", "aria-live": "polite"},
      h("h2", {id: "donate-heading"}, "Thank you!"),
      h("p", {}, "Your donation of ", h("strong", {id: "pledge-amount"}, money(pledge.amount, pledge.currency)),
        " to ", h("em", {}, campaign.title), "."),
      h("p", {class: "status-line"}, "Status: ", statusBadge),
      detail, payment,
      h("p", {class: "muted"}, "Reference: ", h("code", {id: "pledge-id"}, pledge.id))),
    h("div", {class: "actions"}, again));
  render(pledge);

  // Pushed over the pledge's own socket (guests and signed-in donors alike); polled only while it is not open.
  const tracker = followPledge(pledge, pledge.receipt_token, (next) => {
    if (!ctx.alive) return;
    render(next);
    if (isTerminal(next.status)) totalsAfterDonation();
  });
  trackers.set(pledge.id, tracker);
  again.addEventListener("click", () => {
    tracker.stop();
    donateForm(ctx, campaign, area, trackers, totalsAfterDonation);
  });
}
