// #/admin : every campaign (any status), for ADMINs.
import {api, session} from "../api.js";
import {errorBox, h, replace} from "../dom.js";
import {badge, pagedList, progress} from "../components.js";
import {when} from "../format.js";

const STATUSES = ["", "ACTIVE", "COMPLETED", "CANCELLED"];

export function requireAdmin(ctx) {
  if (session.isAdmin) return true;
  replace(ctx.main, h("h1", {}, "Admin"),
    h("p", {}, session.token ? "This part is for ADMIN accounts." : "Sign in with an ADMIN account to manage campaigns. ",
      session.token ? null : h("a", {href: "#/login?next=/admin"}, "Sign in")));
  return false;
}

export default async function adminListPage(ctx) {
  if (!requireAdmin(ctx)) return;
  const status = STATUSES.includes(ctx.query.get("status") || "") ? ctx.query.get("status") || "" : "";
  const filter = h("select", {id: "status-filter", name: "status"},
    STATUSES.map((s) => h("option", {value: s, selected: s === status}, s || "All statuses")));
  filter.addEventListener("change", () => ctx.navigate(filter.value ? `#/admin?status=${filter.value}` : "#/admin"));
  const list = h("div", {id: "admin-campaigns"});
  replace(ctx.main,
    h("div", {class: "title-row"}, h("h1", {}, "Manage campaigns"),
      h("a", {href: "#/admin/campaigns/new", class: "button", id: "new-campaign"}, "New campaign")),
    h("p", {class: "filters"}, h("label", {for: "status-filter"}, "Show "), filter),
    list);
  const paged = pagedList(list, (cursor) => api.get("/campaigns", {query: {status, limit: 20, cursor}}),
    (campaigns) => campaigns.length ? table(campaigns) : h("p", {class: "muted empty"}, "No campaigns."),
    {onError: (error) => replace(list, errorBox(error))});
  await paged.ready;
}

function table(campaigns) {
  return h("div", {class: "table-wrap"}, h("table", {class: "campaigns"},
    h("thead", {}, h("tr", {}, ["Campaign", "Status", "Progress", "Created"].map((t) => h("th", {scope: "col"}, t)))),
    h("tbody", {}, campaigns.map((c) => h("tr", {class: "campaign-row", dataset: {campaignId: c.id}},
      h("td", {}, h("a", {href: `#/admin/campaigns/${encodeURIComponent(c.id)}`, class: "campaign-link"}, c.title)),
      h("td", {class: "status-cell"}, badge(c.status)),
      h("td", {class: "progress-cell"}, progress({total: c.current_amount, goal: c.goal_amount, currency: c.currency}).el),
      h("td", {}, when(c.created_at)))))));
}
