// The Sync health page: over the last 7 or 30 days, the outcomes per day by
// status and the Salesforce API calls per day against the team's cap (SVG
// charts drawn with DOM calls, each with its numbers in a table), the held
// events and why, the error inbox grouped by code with its retry (all, one
// code, one contact), and one contact's records and outcomes.

import {call, problem} from "./api.js";
import {byId, h, s, fill, show, on, when, number, plural, words, clearFieldErrors, fieldError} from "./dom.js";

const statusOrder = ["created", "linked", "updated", "exists_in_salesforce", "not_in_salesforce", "pending", "skipped", "failed"];

let days = 7;
let lock = () => {};
let refreshTimers = [];
let shown = null; // the last health answer, redrawn when the page's width changes
let resizeTimer = null;

export const page = {
  init(lockWrites) {
    lock = lockWrites;
    for (const b of document.querySelectorAll("#page-health [data-days]")) {
      on(b, "click", () => {
        days = Number(b.dataset.days);
        for (const o of document.querySelectorAll("#page-health [data-days]")) o.setAttribute("aria-pressed", String(o === b));
        loadHealth();
      });
    }
    on("health-refresh", "click", () => load());
    on("errors-refresh", "click", () => loadErrors());
    on("retry-all", "click", () => retry({all: true}, "every failed contact"));
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(() => {
        if (shown && !byId("page-health").hidden) drawCharts();
      }, 200);
    });
    on("contact-lookup", "submit", (ev) => {
      ev.preventDefault();
      lookupContact(byId("contact-id").value.trim());
    });
  },
  show() {
    load();
  },
};

async function load() {
  const section = byId("page-health");
  delete section.dataset.ready;
  await Promise.all([loadHealth(), loadErrors()]);
  section.dataset.ready = "true";
}

async function loadHealth() {
  show("health-error", "");
  const r = await call("GET", `/v1/salesforce/health?days=${days}`);
  if (!r.ok) {
    show("health-error", problem(r));
    fill("chart-outcomes");
    fill("chart-calls");
    return;
  }
  const d = r.data;
  shown = d;
  byId("health-range").textContent = `From ${d.from} to ${d.to} (UTC days).`;
  drawCharts();
  const b = d.budget;
  byId("budget-line").textContent = b
    ? `The sync may use ${b.percent}% of the org's daily calls` +
      (typeof b.cap === "number" ? ` (${number(b.cap)} a day)` : " (the org's allocation is not known yet)") +
      `; ${number(b.calls_today)} used today: ${words(b.state)}.`
    : "Not connected: no calls are made.";
  const held = Array.isArray(d.held) ? d.held : [];
  byId("held-empty").hidden = held.length > 0;
  fill("held-list", held.map((x) => h("li", {"data-reason": x.reason},
    h("p", {}, h("strong", {text: words(x.reason)}), ` ${number(x.events)} ${plural(x.events, "event", "events")} of ${number(x.contacts)} ${plural(x.contacts, "contact", "contacts")}` +
      (x.since ? `, since ${when(x.since)}` : "")),
    h("p", {text: x.explanation}))));
}

// ---- charts ----

// drawCharts draws both charts at the width they have on the page, so their
// text keeps its size on a phone as on a desktop.
function drawCharts() {
  const list = Array.isArray(shown.days) ? shown.days : [];
  const width = Math.min(Math.max(byId("chart-outcomes").clientWidth || 640, 280), 960);
  fill("chart-outcomes", outcomesChart(list, width));
  fill("chart-calls", callsChart(list, shown.budget, width));
}

function niceCeil(v) {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function statusesOf(list) {
  const seen = new Set();
  for (const d of list) for (const k of Object.keys(d.outcomes || {})) seen.add(k);
  const known = statusOrder.filter((k) => seen.has(k));
  const other = [...seen].filter((k) => !statusOrder.includes(k)).sort();
  return [...known, ...other];
}

function statusClass(st) {
  return "st-" + (statusOrder.includes(st) ? st : "other");
}

// frame draws the axes, the horizontal grid and the x labels of a bar
// chart of n days, and returns where the bars go.
function frame(svg, list, top, W) {
  const H = 240, left = 44, right = 12, topPad = 12, bottom = 30;
  const plotW = W - left - right, plotH = H - topPad - bottom;
  const n = Math.max(list.length, 1);
  const step = plotW / n;
  const y = (v) => topPad + plotH - (v / top) * plotH;
  for (const v of [0, top / 2, top]) {
    if (v !== 0 && !Number.isInteger(v)) continue;
    svg.append(s("line", {class: "grid-line", x1: left, x2: W - right, y1: y(v), y2: y(v)}));
    svg.append(s("text", {x: left - 6, y: y(v) + 4, "text-anchor": "end", text: number(v)}));
  }
  svg.append(s("line", {class: "axis", x1: left, x2: W - right, y1: y(0), y2: y(0)}));
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(plotW / 56)))); // a label needs about 56 px
  list.forEach((d, i) => {
    if ((n - 1 - i) % every !== 0) return; // label the newest day, and back from it
    svg.append(s("text", {x: left + step * i + step / 2, y: H - 10, "text-anchor": "middle", text: String(d.date).slice(5)}));
  });
  return {W, H, left, step, barW: Math.max(2, step * 0.7), y};
}

function newSVG(label, W) {
  return s("svg", {viewBox: `0 0 ${W} 240`, role: "img", "aria-label": label, preserveAspectRatio: "xMidYMid meet"});
}

function outcomesChart(list, W) {
  const statuses = statusesOf(list);
  const totals = list.map((d) => Object.values(d.outcomes || {}).reduce((a, b) => a + b, 0));
  const all = totals.reduce((a, b) => a + b, 0);
  const svg = newSVG(`Outcomes per day, ${list.length} days: ${number(all)} in all.`, W);
  const top = niceCeil(Math.max(...totals, 1));
  const g = frame(svg, list, top, W);
  list.forEach((d, i) => {
    let base = 0;
    const x = g.left + g.step * i + (g.step - g.barW) / 2;
    for (const st of statuses) {
      const v = (d.outcomes || {})[st] || 0;
      if (!v) continue;
      svg.append(s("rect", {class: statusClass(st), "data-status": st, x, y: g.y(base + v), width: g.barW, height: Math.max(g.y(base) - g.y(base + v), 1)},
        s("title", {text: `${d.date}: ${words(st)} ${number(v)}`})));
      base += v;
    }
  });
  const legend = statuses.length
    ? h("ul", {class: "legend"}, statuses.map((st) => h("li", {}, h("span", {class: "swatch " + statusClass(st), "aria-hidden": "true"}), words(st))))
    : h("p", {class: "meta", text: "No outcomes in these days."});
  const table = h("details", {},
    h("summary", {text: "The numbers"}),
    h("div", {class: "table-wrap"}, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {scope: "col", text: "Day"}), statuses.map((st) => h("th", {scope: "col", text: words(st)})))),
      h("tbody", {}, list.map((d) => h("tr", {}, h("th", {scope: "row", text: d.date}),
        statuses.map((st) => h("td", {text: number((d.outcomes || {})[st] || 0)}))))))));
  return [svg, legend, table];
}

function callsChart(list, budget, W) {
  const calls = list.map((d) => d.calls || 0);
  const peak = Math.max(...calls, 0);
  const cap = budget && typeof budget.cap === "number" ? budget.cap : null;
  // The cap is drawn when the bars still read beside it; far above them,
  // it is said in words instead.
  const drawCap = cap !== null && cap <= 5 * Math.max(peak, 1);
  const top = niceCeil(Math.max(peak, drawCap ? cap : 0, 1));
  const svg = newSVG(`API calls per day, ${list.length} days; at most ${number(peak)} in a day` + (cap !== null ? `; the cap is ${number(cap)} a day.` : "."), W);
  const g = frame(svg, list, top, W);
  list.forEach((d, i) => {
    const v = d.calls || 0;
    if (!v) return;
    const x = g.left + g.step * i + (g.step - g.barW) / 2;
    svg.append(s("rect", {class: "calls" + (cap !== null && v > cap ? " over" : ""), x, y: g.y(v), width: g.barW, height: Math.max(g.y(0) - g.y(v), 1)},
      s("title", {text: `${d.date}: ${number(v)} ${plural(v, "call", "calls")}`})));
  });
  const notes = [];
  if (drawCap) {
    svg.append(s("line", {class: "cap", x1: g.left, x2: g.W - 12, y1: g.y(cap), y2: g.y(cap)}));
    svg.append(s("text", {class: "cap-label", x: g.W - 14, y: g.y(cap) - 4, "text-anchor": "end", text: `cap ${number(cap)} a day`}));
  } else if (cap !== null) {
    notes.push(h("p", {class: "meta", text: `The cap, ${number(cap)} calls a day, is far above these days' calls (at most ${number(peak)}).`}));
  }
  const table = h("details", {},
    h("summary", {text: "The numbers"}),
    h("div", {class: "table-wrap"}, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {scope: "col", text: "Day"}), h("th", {scope: "col", text: "Calls"}))),
      h("tbody", {}, list.map((d) => h("tr", {}, h("th", {scope: "row", text: d.date}), h("td", {text: number(d.calls || 0)})))))));
  return [svg, ...notes, table];
}

// ---- error inbox ----

async function loadErrors() {
  show("errors-error", "");
  const r = await call("GET", "/v1/salesforce/errors");
  if (!r.ok) {
    show("errors-error", problem(r));
    return;
  }
  const groups = Array.isArray(r.data.groups) ? r.data.groups : [];
  const total = groups.reduce((a, g) => a + g.count, 0);
  byId("errors-summary").textContent = total === 0
    ? "No open errors."
    : `${number(total)} open ${plural(total, "error", "errors")} in ${groups.length} ${plural(groups.length, "group", "groups")}` +
      (r.data.complete === false ? " (at least: more than one read holds)." : ".");
  byId("retry-all").hidden = total === 0;
  fill("error-groups", groups.map(group));
  lock(byId("page-health"));
  const summary = byId("errors-summary");
  summary.dataset.loads = String(Number(summary.dataset.loads || 0) + 1); // a signal that the inbox was read again
}

function group(g) {
  const retryCode = h("button", {type: "button", class: "retry", "data-write": true, "data-code": g.code, text: `Retry these ${number(g.count)}`});
  on(retryCode, "click", () => retry({code: g.code}, `the contacts that failed with ${g.code}`));
  return h("div", {class: "group", "data-code": g.code},
    h("h4", {}, g.code, " ", h("span", {class: "badge fail", text: number(g.count)})),
    h("p", {text: g.hint}),
    h("p", {}, retryCode),
    h("ul", {class: "contacts"}, (g.contacts || []).map(contactItem)),
    g.contacts_truncated ? h("p", {class: "meta", text: `Showing the newest ${g.contacts.length}.`}) : null);
}

function contactItem(c) {
  const view = h("button", {type: "button", class: "link", text: c.contact_id, "aria-label": `Show contact ${c.contact_id}`});
  on(view, "click", () => {
    byId("contact-id").value = c.contact_id;
    lookupContact(c.contact_id);
    byId("contact-view").scrollIntoView({block: "nearest"});
  });
  const retryOne = h("button", {type: "button", class: "retry", "data-write": true, "data-contact": c.contact_id, text: "Retry this contact"});
  on(retryOne, "click", () => retry({contact_ids: [c.contact_id]}, `contact ${c.contact_id}`));
  return h("li", {"data-contact": c.contact_id},
    view,
    h("span", {class: "meta", text: [c.sequence_id ? "sequence " + c.sequence_id : "", words(c.type), when(c.at)].filter(Boolean).join(" · ")}),
    retryOne,
    h("span", {class: "message", text: c.message + (c.fields && c.fields.length ? ` (fields: ${c.fields.join(", ")})` : "")}));
}

async function retry(body, what) {
  const result = byId("retry-result");
  result.textContent = `Retrying ${what}…`;
  const r = await call("POST", "/v1/salesforce/errors/retry", {body});
  if (!r.ok) {
    result.textContent = r.error.code === "retry_too_soon"
      ? `The same retry ran less than 2 minutes ago and its events are still on their way; try again in ${r.error.retryAfter} s.`
      : "Not retried: " + problem(r);
    return;
  }
  const d = r.data;
  result.textContent = `Sent ${number(d.retried)} ${plural(d.retried, "contact", "contacts")} again` +
    (d.not_retryable ? `; ${number(d.not_retryable)} cannot be re-run from here (failed email activity and deduplication checks)` : "") +
    ". Each ends in a new outcome; the inbox refreshes as they come.";
  for (const t of refreshTimers) clearTimeout(t);
  refreshTimers = [3000, 10000, 30000].map((ms) => setTimeout(loadErrors, ms));
}

// ---- one contact ----

async function lookupContact(id) {
  const form = byId("contact-lookup");
  clearFieldErrors(form);
  const view = byId("contact-view");
  if (!id) {
    fieldError(form, "contact_id", "Enter a contact id, as the sequencer names it.");
    return;
  }
  const r = await call("GET", `/v1/contacts/${encodeURIComponent(id)}/salesforce`);
  if (!r.ok) {
    fill(view);
    fieldError(form, "contact_id", r.status === 404 ? "The sync knows nothing of this contact." : problem(r));
    return;
  }
  const d = r.data;
  const records = d.records || [];
  fill(view,
    h("h4", {text: "Contact " + d.contact_id}),
    records.length
      ? h("ul", {class: "contacts", "data-records": String(records.length)}, records.map((x) => h("li", {"data-record": x.object + " " + x.id},
        h("strong", {text: `${x.object} ${x.id}`}), h("span", {text: `${x.status} · ${x.email}`}), h("span", {class: "meta", text: "synced " + when(x.synced_at)}))))
      : h("p", {class: "meta", text: "Not synced to any Salesforce record yet."}),
    h("div", {class: "table-wrap"}, h("table", {},
      h("caption", {class: "meta", text: "Newest outcomes"}),
      h("thead", {}, h("tr", {}, ["When", "Event", "Sequence", "Status", "Why"].map((t) => h("th", {scope: "col", text: t})))),
      h("tbody", {}, (d.outcomes || []).map((o) => h("tr", {},
        h("td", {text: when(o.at)}), h("td", {text: o.event_id}), h("td", {text: o.sequence_id || ""}), h("td", {text: words(o.status)}),
        h("td", {text: o.error ? `${o.error.code}: ${o.error.message}` : words(o.reason || "")}))))))
  );
}
