// #/find : a guest asks for an emailed link to their donations, and sees those made on this device.
import {api, request} from "../api.js";
import {errorBox, field, h, replace, showFieldErrors} from "../dom.js";
import {badge} from "../components.js";
import {money, when} from "../format.js";
import {receipts} from "../donation.js";

export default async function findPage(ctx) {
  const errorSlot = h("div", {"aria-live": "assertive"});
  const done = h("p", {id: "lookup-sent", class: "success", role: "status", "aria-live": "polite"});
  const button = h("button", {type: "submit"}, "Email me a link");
  const form = h("form", {id: "lookup-form", class: "card narrow", novalidate: true},
    field({label: "Email you donated with", name: "email", type: "email", autocomplete: "email", required: true}),
    errorSlot, h("div", {class: "actions"}, button), done);
  const device = h("section", {id: "device-donations", "aria-labelledby": "device-heading"});
  replace(ctx.main, h("h1", {}, "Find my donations"),
    h("p", {}, "Donated as a guest? We email you a link that lists every donation made with your address."),
    form, device);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    replace(errorSlot);
    showFieldErrors(form, {});
    done.textContent = "";
    try {
      await api.post("/donations/lookup", {email: String(new FormData(form).get("email") || "").trim()}, {auth: false});
      done.textContent = "If there are donations made with this address, we emailed a link to see them. " +
        "It works for 15 minutes.";
    } catch (error) {
      if (!ctx.alive) return;
      showFieldErrors(form, error.fieldErrors);
      replace(errorSlot, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });

  await deviceDonations(ctx, device);
}

async function deviceDonations(ctx, section) {
  const stored = receipts.list();
  const heading = h("h2", {id: "device-heading"}, "Donations made on this device");
  if (!stored.length) {
    replace(section, heading, h("p", {class: "muted"}, "None yet."));
    return;
  }
  const rows = stored.map((r) => {
    const status = h("td", {}, "…");
    const row = h("tr", {class: "pledge-row", dataset: {pledgeId: r.pledge_id}},
      h("td", {}, money(r.amount, r.currency)),
      h("td", {}, h("a", {href: `#/campaigns/${encodeURIComponent(r.campaign_id)}`}, r.campaign_title || "Campaign")),
      status, h("td", {}, when(r.created_at)));
    return {r, row, status};
  });
  replace(section, heading, h("div", {class: "table-wrap"}, h("table", {class: "pledges"},
    h("thead", {}, h("tr", {}, ["Amount", "Campaign", "Status", "Date"].map((t) => h("th", {scope: "col"}, t)))),
    h("tbody", {}, rows.map((x) => x.row)))));
  await Promise.all(rows.map(async ({r, status}) => {
    try {
      const {data} = await request("GET", `/pledges/${encodeURIComponent(r.pledge_id)}`,
                                   {query: {receipt_token: r.receipt_token}, auth: false});
      if (ctx.alive) replace(status, badge(data.status));
    } catch (error) {
      if (ctx.alive) replace(status, h("span", {class: "muted"}, error.status === 404 ? "unknown" : "unavailable"));
    }
  }));
}
