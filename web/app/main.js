// The app shell: a hash router, the header (who is signed in) and the status line.
import {api, session} from "./api.js";
import {h, replace} from "./dom.js";
import campaignsPage from "./pages/campaigns.js";
import campaignPage from "./pages/campaign.js";
import {loginPage, registerPage} from "./pages/auth.js";
import {myDonationsPage, guestDonationsPage} from "./pages/donations.js";
import findPage from "./pages/find.js";
import adminListPage from "./pages/admin.js";
import {adminNewPage, adminCampaignPage} from "./pages/admin-campaign.js";

const routes = [
  [/^\/$/, campaignsPage],
  [/^\/campaigns\/([^/]+)$/, campaignPage],
  [/^\/login$/, loginPage],
  [/^\/register$/, registerPage],
  [/^\/me\/donations$/, myDonationsPage],
  [/^\/find$/, findPage],
  [/^\/donations$/, guestDonationsPage],
  [/^\/admin$/, adminListPage],
  [/^\/admin\/campaigns\/new$/, adminNewPage],
  [/^\/admin\/campaigns\/([^/]+)$/, adminCampaignPage],
];

const main = document.getElementById("main");
const notice = document.getElementById("notice");
let current = null;  // {cleanups: [], alive: bool} of the page on screen

/** A short message in the status line (aria-live), e.g. "Signed out". */
export function notify(message) {
  notice.textContent = message;
  notice.classList.toggle("visible", Boolean(message));
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function parseHash() {
  const hash = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
  const [path, query = ""] = hash.split("?");
  return {path, query: new URLSearchParams(query)};
}

async function route() {
  if (location.hash && !location.hash.startsWith("#/")) return;  // an in-page anchor such as #main
  if (current) {
    current.alive = false;
    current.cleanups.forEach((fn) => fn());
  }
  const page = {cleanups: [], alive: true};
  current = page;
  const {path, query} = parseHash();
  const match = routes.map(([pattern, render]) => [path.match(pattern), render]).find(([m]) => m);
  renderNav(path);
  const ctx = {
    main, query, navigate, notify,
    params: match ? match[0].slice(1).map(decodeURIComponent) : [],
    get alive() {
      return page.alive;
    },
    onLeave(fn) {
      page.cleanups.push(fn);
    },
  };
  main.setAttribute("aria-busy", "true");
  try {
    if (match) await match[1](ctx);
    else replace(main, h("h1", {}, "Page not found"), h("p", {}, h("a", {href: "#/"}, "See the campaigns")));
  } catch (error) {
    if (page.alive) {
      replace(main, h("h1", {}, "Something went wrong"), h("p", {class: "error-message"}, error.message),
        error.correlationId ? h("p", {class: "reference"}, "Reference for support: ",
          h("code", {class: "correlation-id"}, error.correlationId)) : null);
    }
  } finally {
    if (page.alive) main.removeAttribute("aria-busy");
  }
}

function renderNav(path = parseHash().path) {
  const nav = document.getElementById("nav");
  const user = session.user;
  const link = (href, text) => h("a", {href, "aria-current": `#${path}` === href ? "page" : null}, text);
  replace(nav,
    link("#/", "Campaigns"),
    user ? link("#/me/donations", "My donations") : link("#/find", "Find my donations"),
    session.isAdmin ? link("#/admin", "Admin") : null,
    user
      ? h("span", {class: "who"},
          h("span", {class: "signed-in-as"}, "Signed in as ", h("strong", {}, user.name || user.email)),
          h("button", {type: "button", class: "link-button", id: "sign-out", onClick: signOut}, "Sign out"))
      : h("span", {class: "who"}, link("#/login", "Sign in"), link("#/register", "Register")));
}

function signOut() {
  session.signOut();
  notify("You are signed out.");
  navigate("#/");
}

/** On start: a stored token is checked (and the role refreshed) with GET /users/me. */
async function refreshUser() {
  if (!session.token) return;
  try {
    session.setUser(await api.get("/users/me"));
  } catch (error) {
    if (error.status === 401) notify("Your sign-in has expired. Please sign in again.");
  }
}

// The skip link focuses the content without touching the hash (the router's).
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
window.addEventListener("careforall:session", () => renderNav());
window.addEventListener("hashchange", route);
refreshUser();
route();
