// #/ : the ACTIVE campaigns, newest first, page by page, each with its progress.
import {api} from "../api.js";
import {h, replace} from "../dom.js";
import {pagedList, progress} from "../components.js";

export default async function campaignsPage({main}) {
  const list = h("div", {class: "campaign-list-container"});
  replace(main,
    h("h1", {}, "Campaigns"),
    h("p", {class: "lead"}, "Give to a campaign: every donation is counted once and you can follow it to the end."),
    list);
  const paged = pagedList(list, (cursor) => api.get("/campaigns", {query: {status: "ACTIVE", limit: 12, cursor}}),
    (campaigns) => campaigns.length
      ? h("ul", {class: "campaign-list"}, campaigns.map(card))
      : h("p", {class: "muted empty"}, "There are no active campaigns right now."));
  await paged.ready;
}

function card(campaign) {
  const href = `#/campaigns/${encodeURIComponent(campaign.id)}`;
  return h("li", {class: "campaign-card", dataset: {campaignId: campaign.id}},
    h("h2", {}, h("a", {href, class: "campaign-link"}, campaign.title)),
    h("p", {class: "description clamp"}, campaign.description),
    progress({total: campaign.current_amount, goal: campaign.goal_amount, currency: campaign.currency}).el,
    h("a", {href, class: "button"}, "Donate"));
}
