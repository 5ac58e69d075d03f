"""The ops page's HTML: one self-contained document (inline CSS and JS, no external assets) that
renders /_local/ops/data every 2 s and, with `?donation=<key>`, /_local/ops/donations/<key>."""

OPS_PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>CareForAll local ops</title>
<style>
  :root { --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --muted:#57606a; --line:#d0d7de; --bg:#f6f8fa;
          --api:#8250df; --fn:#bc4c00; --sub:#0969da; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:#1f2328; background:#fff; }
  header { position:sticky; top:0; z-index:2; background:#fff; border-bottom:1px solid var(--line);
           padding:.6rem 1rem; display:flex; flex-wrap:wrap; gap:.6rem 1rem; align-items:center; }
  h1 { font-size:1.1rem; margin:0; }
  h2 { font-size:1rem; margin:1.4rem 0 .5rem; }
  main { padding:0 1rem 2rem; max-width:1400px; margin:0 auto; }
  .badge { display:inline-block; padding:.2rem .65rem; border-radius:999px; color:#fff; font-weight:600; }
  .badge.ok { background:var(--ok); } .badge.bad { background:var(--bad); } .badge.wait { background:var(--muted); }
  .muted { color:var(--muted); } .small { font-size:12px; }
  .problems { margin:.5rem 0 0; padding-left:1.2rem; color:var(--bad); }
  form { display:flex; gap:.4rem; flex:1 1 20rem; max-width:36rem; }
  input[type=search] { flex:1; min-width:0; padding:.4rem .6rem; border:1px solid var(--line); border-radius:6px; font:inherit; }
  button { padding:.4rem .8rem; border:1px solid var(--line); border-radius:6px; background:var(--bg); font:inherit; cursor:pointer; }
  .scroll { overflow-x:auto; -webkit-overflow-scrolling:touch; border:1px solid var(--line); border-radius:6px; }
  table { border-collapse:collapse; width:100%; }
  th, td { padding:.3rem .6rem; border-bottom:1px solid var(--line); text-align:left; white-space:nowrap; }
  th { background:var(--bg); font-weight:600; position:sticky; top:0; }
  td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
  tr:last-child td { border-bottom:0; }
  tr.alarm td { background:#ffebe9; color:var(--bad); font-weight:600; }
  .tag { display:inline-block; padding:0 .4rem; border-radius:4px; font-size:12px; background:var(--bg); border:1px solid var(--line); }
  .tag.bad { color:var(--bad); border-color:var(--bad); } .tag.ok { color:var(--ok); border-color:var(--ok); }
  .grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(11rem,1fr)); gap:.5rem; }
  .card { border:1px solid var(--line); border-radius:6px; padding:.5rem .7rem; }
  .card b { display:block; font-size:12px; color:var(--muted); font-weight:500; }
  .card span { word-break:break-all; }
  #donation { display:none; border:2px solid var(--sub); border-radius:8px; padding:.2rem 1rem 1rem; margin-top:1rem; }
  .tl { margin-top:.5rem; }
  .tl-row { display:grid; grid-template-columns:minmax(9rem,28%) 1fr; gap:.5rem; align-items:center; min-height:1.5rem;
            border-bottom:1px dashed #eaeef2; }
  .tl-row.foreign { opacity:.4; }
  .tl-label { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; font-size:12px; }
  .tl-track { position:relative; height:1.1rem; }
  .tl-bar { position:absolute; top:.15rem; height:.8rem; border-radius:3px; min-width:2px; background:var(--sub); }
  .tl-bar.api { background:var(--api); } .tl-bar.fn { background:var(--fn); } .tl-bar.err { background:var(--bad); }
  .tl-time { position:absolute; top:0; font-size:11px; color:var(--muted); white-space:nowrap; }
  .tl-axis { display:grid; grid-template-columns:minmax(9rem,28%) 1fr; gap:.5rem; font-size:11px; color:var(--muted); }
  .tl-axis div:last-child { display:flex; justify-content:space-between; }
  .logs { font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace; white-space:pre-wrap; word-break:break-word;
          background:var(--bg); border:1px solid var(--line); border-radius:6px; padding:.5rem; max-height:28rem; overflow:auto; }
  .logs .ERROR, .logs .CRITICAL { color:var(--bad); } .logs .WARNING { color:var(--warn); }
  a { color:var(--sub); }
  @media (max-width: 640px) {
    header { position:static; }
    .tl-row, .tl-axis { grid-template-columns:1fr; gap:0; }
    .tl-axis div:first-child { display:none; }
    th, td { padding:.25rem .4rem; }
  }
</style>
</head>
<body>
<header>
  <h1>CareForAll local ops</h1>
  <span id="badge" class="badge wait">loading</span>
  <span id="updated" class="muted small"></span>
  <form id="search" autocomplete="off">
    <input id="key" type="search" placeholder="pledge id, payment id, correlation id or trace id" aria-label="donation key">
    <button type="submit">Find donation</button>
  </form>
</header>
<main>
  <ul id="problems" class="problems"></ul>

  <section id="donation" aria-live="polite">
    <h2 id="d-title">Donation</h2>
    <div id="d-body"></div>
  </section>

  <h2>Recent donations</h2>
  <div class="scroll"><table id="donations"></table></div>

  <h2>Functions</h2>
  <div class="scroll"><table id="functions"></table></div>

  <h2>Queues</h2>
  <div class="scroll"><table id="queues"></table></div>

  <h2>Streams</h2>
  <div class="scroll"><table id="streams"></table></div>

  <h2>Business metrics <span class="muted small">(CloudWatch EMF the functions printed)</span></h2>
  <div class="scroll"><table id="metrics"></table></div>

  <p class="muted small" id="footer"></p>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
const num = (v, digits) => v === null || v === undefined ? "–" : (digits === undefined ? String(v) : Number(v).toFixed(digits));
const ms = (v) => v === null || v === undefined ? "–" : (v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(1) + " ms");
const ago = (t) => { if (!t) return "–"; const s = Date.now() / 1000 - t; return s < 60 ? s.toFixed(0) + " s ago" : s < 3600 ? (s / 60).toFixed(0) + " min ago" : (s / 3600).toFixed(1) + " h ago"; };
const clock = (t) => t ? new Date(t * 1000).toISOString().slice(11, 23) : "";
const link = (key) => `<a href="?donation=${encodeURIComponent(key)}" data-key="${esc(key)}">${esc(key)}</a>`;

function table(el, headers, rows, rowClass) {
  const head = "<tr>" + headers.map(([label, cls]) => `<th class="${cls || ""}">${esc(label)}</th>`).join("") + "</tr>";
  const body = rows.length ? rows.map((cells, i) => `<tr class="${rowClass ? rowClass(i) : ""}">` +
      cells.map((c, j) => `<td class="${headers[j][1] || ""}">${c}</td>`).join("") + "</tr>").join("")
    : `<tr><td colspan="${headers.length}" class="muted">nothing yet</td></tr>`;
  el.innerHTML = head + body;
}

function render(data) {
  const badge = $("badge");
  badge.className = "badge " + (!data.ready ? "wait" : data.healthy ? "ok" : "bad");
  badge.textContent = !data.ready ? "starting" : data.healthy ? "healthy" : "attention";
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  $("problems").innerHTML = (data.problems || []).map((p) => `<li>${esc(p)}</li>`).join("");

  const donations = data.recent_donations || [];
  table($("donations"), [["pledge"], ["campaign"], ["amount", "num"], ["status"], ["payment"], ["correlation id"], ["seen"]],
    donations.map((d) => [link(d.pledge_id), esc(d.campaign_id ?? "–"), esc(d.amount ? d.amount + " " + (d.currency || "") : "–"),
      `<span class="tag ${d.status === "FAILED" ? "bad" : d.status === "COMPLETED" ? "ok" : ""}">${esc(d.status ?? "?")}</span>`,
      esc(d.payment_state ?? "–"), d.correlation_id ? link(d.correlation_id) : "–", esc(ago(d.seen_at))]));

  const fns = Object.entries(data.functions || {}).sort(([a], [b]) => a.localeCompare(b));
  table($("functions"), [["function"], ["invocations", "num"], ["errors", "num"], ["last min", "num"], ["cold starts", "num"],
      ["p50", "num"], ["p99", "num"], ["busy/workers", "num"], ["last error"]],
    fns.map(([name, f]) => [esc(name), num(f.invocations), num(f.errors), num(f.errors_last_minute), num(f.cold_starts),
      ms(f.p50_ms), ms(f.p99_ms), `${num(f.workers - f.idle)}/${num(f.workers)} of ${num(f.max_concurrency)}`,
      f.last_error ? `<span title="${esc(f.last_error.message)}">${esc(f.last_error.type)} ${esc(ago(f.last_error.at))}</span>` : "–"]),
    (i) => fns[i][1].errors_last_minute ? "alarm" : "");

  const queues = data.queues || [];
  table($("queues"), [["queue"], ["role"], ["visible", "num"], ["in flight", "num"], ["delayed", "num"], ["for"]],
    queues.map((q) => [esc(q.name), `<span class="tag ${q.failure_queue ? "bad" : ""}">${esc(q.kind)}</span>`,
      num(q.visible), num(q.in_flight), num(q.delayed),
      esc([...(q.dead_letter_for || []).map((n) => "DLQ of " + n), ...(q.failure_destination_for || []).map((n) => "on-failure of " + n),
           ...(q.feeds || []).map((n) => "feeds " + n)].join(", ") || (q.error ? "error: " + q.error : "–"))]),
    (i) => queues[i].alarm ? "alarm" : "");

  const streams = data.streams || [];
  table($("streams"), [["mapping"], ["function"], ["table"], ["records", "num"], ["batches", "num"], ["lag", "num"], ["state"]],
    streams.map((s) => [esc(s.mapping), esc(s.function), esc(s.table), num(s.records_delivered), num(s.batches_delivered),
      s.lag_seconds === null ? "–" : num(s.lag_seconds, 1) + " s",
      `<span class="tag ${s.caught_up ? "ok" : s.lagging ? "bad" : ""}">${s.caught_up ? "caught up" : s.lagging ? "lagging" : "delivering"}</span>`]),
    (i) => streams[i].lagging ? "alarm" : "");

  const metrics = data.metrics || [];
  table($("metrics"), [["namespace"], ["metric"], ["dimensions"], ["count", "num"], ["sum", "num"], ["p50", "num"], ["p99", "num"], ["last"]],
    metrics.map((m) => [esc(m.namespace), esc(m.name), esc(Object.entries(m.dimensions || {}).map(([k, v]) => k + "=" + v).join(", ")),
      num(m.count), num(Math.round(m.sum * 100) / 100), num(m.p50), num(m.p99), esc(ago(m.last_at))]));

  const t = data.traces || {};
  $("footer").textContent = `${data.websocket_connections || 0} WebSocket connection(s) · ${t.documents || 0} trace documents kept ` +
    `(${t.received || 0} received, ${t.rejected || 0} rejected, ${t.dropped || 0} dropped) · JSON at /_local/ops/data`;
}

function depthOf(span, byId) {
  let depth = 0, parent = byId.get(span.trace_id + "/" + span.parent_id);
  while (parent && depth < 12) { depth += 1; parent = byId.get(parent.trace_id + "/" + parent.parent_id); }
  return depth;
}

function renderDonation(d) {
  const p = d.pledge;
  $("d-title").textContent = "Donation " + (d.pledge_id || d.key);
  const cards = [
    ["status", p ? p.status : "unknown (no pledge found)"], ["amount", p && p.amount ? p.amount + " " + (p.currency || "") : "–"],
    ["campaign", p ? p.campaign_id : "–"], ["payment", p && p.payment ? `${p.payment.state} (${p.payment.id})` : (d.payment_ids || []).join(", ") || "–"],
    ["correlation id", (d.correlation_ids || []).join(", ") || "–"],
    ["traces", (d.trace_ids || []).length ? d.trace_ids[0] + (d.trace_ids.length > 1 ? ` and ${d.trace_ids.length - 1} more` : "") : "–"],
  ].map(([k, v]) => `<div class="card"><b>${esc(k)}</b><span>${esc(v)}</span></div>`).join("");

  const all = d.spans || [];
  const foreign = all.filter((s) => s.foreign).length;
  const spans = showForeign ? all : all.filter((s) => !s.foreign);
  const byId = new Map(spans.map((s) => [s.trace_id + "/" + s.id, s]));
  const total = Math.max(1, ...spans.map((s) => s.offset_ms + (s.duration_ms || 0)));
  const rows = spans.map((s) => {
    const left = (s.offset_ms / total) * 100, width = Math.max(0.2, ((s.duration_ms || 0) / total) * 100);
    const cls = s.error ? "err" : s.origin === "AWS::ApiGateway::Stage" ? "api" : s.origin === "AWS::Lambda::Function" ? "fn" : "";
    const label = s.origin === "AWS::Lambda::Function" ? (s.function || s.name) + " (invocation)"
      : (s.function ? s.function + " · " : "") + s.name;
    const notes = Object.entries(s.annotations || {}).map(([k, v]) => k + "=" + v).join(" ");
    const title = `${label}\n+${ms(s.offset_ms)} for ${ms(s.duration_ms)}${s.error ? " (error)" : ""}\n${s.origin || ""}\n${notes}\ntrace ${s.trace_id}`;
    const textLeft = left > 70 ? `right:${100 - left}%` : `left:calc(${left + width}% + 4px)`;
    return `<div class="tl-row${s.foreign ? " foreign" : ""}" title="${esc(title)}"><div class="tl-label" style="padding-left:${depthOf(s, byId) * 0.8}rem">${esc(label)}</div>` +
      `<div class="tl-track"><div class="tl-bar ${cls}" style="left:${left}%;width:${width}%"></div>` +
      `<span class="tl-time" style="${textLeft}">+${esc(ms(s.offset_ms))} · ${esc(ms(s.duration_ms))}</span></div></div>`;
  }).join("");
  const axis = `<div class="tl-axis"><div></div><div><span>0</span><span>${esc(ms(total / 2))}</span><span>${esc(ms(total))}</span></div></div>`;

  const logs = (d.logs || []).map((l) => `<div class="${esc(l.level)}">${esc(clock(l.time))} [${esc(l.function)}] ${esc(l.level || "")} ${esc(l.message)}</div>`).join("");
  $("d-body").innerHTML = `<div class="grid">${cards}</div>` +
    `<h2>Timeline <span class="muted small">(${spans.length} spans; purple: API Gateway, orange: Lambda, blue: inside the function, red: failed)</span></h2>` +
    (foreign ? `<p class="small muted">${foreign} span(s) of the same traces belong to other donations (a batch worked on several): ` +
      `<a href="#" id="toggle-foreign">${showForeign ? "hide" : "show"} them</a></p>` : "") +
    (spans.length ? `<div class="tl">${axis}${rows}</div>` : `<p class="muted">no trace segments yet</p>`) +
    `<h2>Logs <span class="muted small">(${(d.logs || []).length} lines with its correlation id)</span></h2>` +
    (logs ? `<div class="logs">${logs}</div>` : `<p class="muted">no log lines yet</p>`);
  $("donation").style.display = "block";
}

let donationKey = new URLSearchParams(location.search).get("donation");
let showForeign = false;

async function refreshDonation() {
  if (!donationKey) { $("donation").style.display = "none"; return; }
  try {
    const response = await fetch("/_local/ops/donations/" + encodeURIComponent(donationKey), {cache: "no-store"});
    if (response.status === 404) {
      $("d-title").textContent = "Donation " + donationKey;
      $("d-body").innerHTML = `<p class="muted">Nothing known (yet) of ${esc(donationKey)}.</p>`;
      $("donation").style.display = "block";
      return;
    }
    renderDonation(await response.json());
  } catch (error) { /* keep the last view; the next refresh tries again */ }
}

async function refresh() {
  try {
    const response = await fetch("/_local/ops/data", {cache: "no-store"});
    render(await response.json());
  } catch (error) {
    $("badge").className = "badge bad"; $("badge").textContent = "stack unreachable";
  }
  await refreshDonation();
}

function openDonation(key) {
  donationKey = key || null;
  history.pushState(null, "", key ? "?donation=" + encodeURIComponent(key) : location.pathname);
  $("key").value = key || "";
  refreshDonation();
  if (key) $("donation").scrollIntoView({behavior: "smooth"});
}

$("search").addEventListener("submit", (event) => { event.preventDefault(); openDonation($("key").value.trim()); });
document.addEventListener("click", (event) => {
  if (event.target.id === "toggle-foreign") { event.preventDefault(); showForeign = !showForeign; refreshDonation(); return; }
  const a = event.target.closest("a[data-key]");
  if (a) { event.preventDefault(); openDonation(a.dataset.key); }
});
window.addEventListener("popstate", () => { donationKey = new URLSearchParams(location.search).get("donation"); $("key").value = donationKey || ""; refreshDonation(); });
$("key").value = donationKey || "";
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
"""
