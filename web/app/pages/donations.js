// #/me/donations (the signed-in donor's history, statuses live) and #/donations?token= (a guest's
// emailed link: every donation made with that email).
import {api, session} from "../api.js";
import {errorBox, h, replace} from "../dom.js";
import {badge, pagedList, pledgeTable} from "../components.js";
import {connectLive} from "../live.js";

const titles = new Map();  // campaign id -> title, shared by the lists

/** Adds campaign_title to each pledge (one GET /campaigns/<id> per campaign not seen yet). */
export async function withCampaignTitles(pledges) {
  const missing = [...new Set(pledges.map((p) => p.campaign_id))].filter((id) => !titles.has(id));
  await Promise.all(missing.map(async (id) => {
    try {
      titles.set(id, (await api.get(`/campaigns/${encodeURIComponent(id)}`)).title);
    } catch {
      titles.set(id, null);
    }
  }));
  return pledges.map((p) => ({...p, campaign_title: titles.get(p.campaign_id) || p.campaign_title}));
}

export async function myDonationsPage(ctx) {
  if (!session.token) {
    replace(ctx.main, h("h1", {}, "My donations"),
      h("p", {}, h("a", {href: "#/login?next=/me/donations"}, "Sign in"), " to see your donations, or ",
        h("a", {href: "#/find"}, "find the donations you made as a guest"), "."));
    return;
  }
  const list = h("div", {id: "my-donations"});
  replace(ctx.main, h("h1", {}, "My donations"), h("p", {class: "muted"}, "Newest first. Statuses update live."), list);
  const paged = pagedList(list, async (cursor) => {
    const page = await api.get("/users/me/pledges", {query: {limit: 20, cursor}});
    return {...page, items: await withCampaignTitles(page.items)};
  }, (pledges) => pledgeTable(pledges), {onError: (error) => replace(list, errorBox(error))});

  const live = connectLive({
    token: session.token,
    onMessage(message) {
      if (message.type !== "pledge.updated") return;
      const row = list.querySelector(`tr[data-pledge-id="${CSS.escape(String(message.pledge_id))}"]`);
      const item = paged.items.find((p) => p.id === message.pledge_id);
      if (item) item.status = message.status;
      if (row && message.status) row.querySelector(".badge")?.replaceWith(badge(message.status));
    },
  });
  ctx.onLeave(() => live.close());
  await paged.ready;
}

export async function guestDonationsPage(ctx) {
  const token = ctx.query.get("token");
  const list = h("div", {id: "guest-donations"});
  replace(ctx.main, h("h1", {}, "Your donations"),
    h("p", {class: "muted"}, "Every donation made with your email address, newest first."), list);
  if (!token) {
    replace(list, h("p", {}, "This link has no token. ", h("a", {href: "#/find"}, "Ask for a new link"), "."));
    return;
  }
  const paged = pagedList(list, async (cursor) => {
    const page = await api.get("/donations", {query: {token, limit: 20, cursor}, auth: false});
    return {...page, items: await withCampaignTitles(page.items)};
  }, (pledges) => pledgeTable(pledges), {
    onError: (error) => replace(list, errorBox(error),
      h("p", {}, h("a", {href: "#/find"}, "Ask for a new link"), " (links work for 15 minutes).")),
  });
  await paged.ready;
}
