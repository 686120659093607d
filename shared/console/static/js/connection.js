// The Connection page: connect (production, sandbox, My Domain), the org and
// user linked, the status, disconnect, and the org readiness report; and
// the OAuth return, which completes a connect in the tab that started it.
//
// A console shown in a frame cannot connect: Salesforce's login and consent
// pages refuse to be framed, and a tab or popup opened from the frame would
// not share the frame's session storage, so nothing could complete the
// connect. There the page says to open the console in its own tab, and
// offers no connect at all.

import {call, problem, session} from "./api.js";
import {byId, h, fill, show, on, details, when, number, words, clearFieldErrors, fieldError} from "./dom.js";

const statusText = {
  connected: "Connected: contacts and activity sync.",
  needs_reauth: "Needs re-authorization: Salesforce refused the service's access (revoked or expired). Syncs wait; an admin connects again.",
  needs_admin: "Needs an admin: Salesforce refuses the connection for a reason a new consent alone does not fix. Syncs wait.",
  disconnected: "Not connected: nothing syncs until an admin connects an org.",
};

const statusLabel = {connected: "Connected", needs_reauth: "Needs re-auth", needs_admin: "Needs admin", disconnected: "Not connected"};

// deniedText is the sentence for each reason the API's OAuth callback gives
// (salesforce=denied&reason=...). The query is anyone's to write: a reason
// not listed here gets the generic sentence, and its words are never shown.
const deniedText = {
  access_denied: "you chose Deny at Salesforce",
  bad_signature: "Salesforce's answer did not verify",
  bad_instance_url: "the org's address is not a Salesforce address",
  bad_identity: "Salesforce's identity answer did not match the org and user",
  exchange_failed: "Salesforce refused to finish the login (try again)",
};

const deniedGeneric = "the connect did not finish";

// framed is true when the console is shown inside another page.
export const framed = (() => {
  try {
    return window.top !== window.self;
  } catch {
    return true;
  }
})();

const readinessLabel = {ok: "OK", warn: "Warning", fail: "Fails", not_checked: "Not checked"};

let current = null; // the last GET /v1/salesforce answer
let lock = () => {};

export const page = {
  init(lockWrites) {
    lock = lockWrites;
    on("connect-form", "submit", startConnect);
    for (const r of document.querySelectorAll('input[name="environment"]')) on(r, "change", environmentChanged);
    environmentChanged();
    renderConnectFor();
    on("disconnect-button", "click", () => {
      const org = current && (current.org_name || current.org_id);
      byId("disconnect-question").textContent = "Disconnect " + (org ? "the org " + org : "Salesforce") +
        "? Syncs stop, and the team's events wait (held) until an admin connects again.";
      byId("disconnect-confirm").hidden = false;
      byId("disconnect-yes").focus();
    });
    on("disconnect-no", "click", () => {
      byId("disconnect-confirm").hidden = true;
      byId("disconnect-button").focus();
    });
    on("disconnect-yes", "click", disconnect);
    on("readiness-refresh", "click", () => loadReadiness());
  },
  show() {
    load();
  },
};

// renderConnectFor says, on the connect form, which team the org will be
// connected for (the team of the tab's session), or, in a frame, that
// connecting needs the console in its own tab.
function renderConnectFor() {
  const s = session();
  byId("connect-controls").hidden = framed;
  byId("connect-framed").hidden = !framed;
  const p = byId("connect-team");
  if (framed || !s) {
    fill(p);
    p.hidden = true;
    return;
  }
  fill(p, "You are connecting Salesforce for ",
    s.team ? ["team ", h("strong", {text: s.team})] : "your team",
    ": the org you allow at Salesforce syncs this team's contacts.");
  p.hidden = false;
}

function environmentChanged() {
  const custom = document.querySelector('input[name="environment"]:checked').value === "custom";
  const field = byId("login-url").closest(".field");
  field.hidden = !custom;
}

// loads counts the page's loads: an answer to a load the page has moved
// on from (a disconnect or a reopened tab started another) is dropped, so
// a status read before a disconnect never paints over the one after it.
let loads = 0;

async function load() {
  const mine = ++loads;
  const section = byId("page-connection");
  delete section.dataset.ready;
  show("conn-error", "");
  const r = await call("GET", "/v1/salesforce");
  if (mine !== loads) {
    return;
  }
  if (!r.ok) {
    show("conn-error", problem(r));
    return;
  }
  current = r.data;
  renderStatus(r.data);
  await loadReadiness();
  if (mine === loads) {
    section.dataset.ready = "true";
  }
}

function renderStatus(c) {
  const st = typeof c.status === "string" ? c.status : "disconnected";
  const badge = byId("conn-status");
  badge.textContent = statusLabel[st] || words(st);
  badge.className = "badge " + st;
  byId("conn-status-text").textContent = statusText[st] || "";
  if (c.problem) {
    const who = c.problem.actor === "operator" ? "The service's operator must act; nothing in your org is wrong." : "";
    show("conn-problem", [c.problem.message, who].filter(Boolean).join(" "));
  } else {
    show("conn-problem", "");
  }
  const usage = c.api_usage ? number(c.api_usage.used) + " of " + number(c.api_usage.limit) + " calls today (the whole org)" : "";
  const budget = c.budget ? c.budget.percent + "% of the org's allocation" +
    (typeof c.budget.cap === "number" ? " (" + number(c.budget.cap) + " calls a day)" : "") +
    "; " + number(c.budget.calls_today) + " used today; " + words(c.budget.state) : "";
  details(byId("conn-details"), [
    ["Org", c.org_name ? c.org_name + " (" + (c.org_id || "") + ")" : c.org_id],
    ["User", c.username ? c.username + (c.user_id ? " (" + c.user_id + ")" : "") : c.user_id],
    ["Environment", c.environment ? words(c.environment) : ""],
    ["Instance", c.instance_url],
    ["Connected", when(c.connected_at)],
    ["API usage", usage],
    ["Sync's budget", budget],
  ]);
  const connected = st !== "disconnected";
  byId("connect-title").textContent = connected ? "Connect again, or another org" : "Connect Salesforce";
  byId("connect-button").textContent = connected ? "Reconnect Salesforce" : "Connect Salesforce";
  byId("disconnect-panel").hidden = !connected;
  byId("disconnect-confirm").hidden = true;
  lock(byId("page-connection"));
}

async function loadReadiness() {
  const s = session();
  const list = byId("readiness-items");
  show("readiness-error", "");
  const c = current || {};
  const summary = c.readiness;
  byId("readiness-summary").textContent = summary
    ? `Last checked ${when(summary.checked_at)}: ${summary.ok} ok, ${summary.warn} ${summary.warn === 1 ? "warning" : "warnings"}, ${summary.fail} failing, ${summary.not_checked} not checked.`
    : (c.status === "disconnected" || !c.status ? "Connect an org to check it." : "Not checked yet.");
  byId("readiness-member-note").hidden = !!(s && s.admin);
  byId("readiness-refresh").hidden = !(s && s.admin) || c.status === "disconnected";
  if (!s || !s.admin || !c.status || c.status === "disconnected") {
    fill(list);
    return;
  }
  const mine = loads;
  const r = await call("GET", "/v1/salesforce/readiness");
  if (mine !== loads) {
    return;
  }
  if (!r.ok) {
    fill(list);
    show("readiness-error", problem(r));
    return;
  }
  const rep = r.data;
  byId("readiness-summary").textContent = `Checked ${when(rep.checked_at)}: ${rep.summary.ok} ok, ${rep.summary.warn} ${rep.summary.warn === 1 ? "warning" : "warnings"}, ${rep.summary.fail} failing, ${rep.summary.not_checked} not checked.`;
  fill(list, (rep.items || []).map((it) => h("li", {"data-item": it.id},
    h("p", {}, h("span", {class: "badge " + it.status, text: readinessLabel[it.status] || words(it.status)}), " ", h("strong", {text: it.title})),
    h("p", {text: it.explanation}),
    it.fix ? h("p", {}, h("strong", {text: "Fix: "}), it.fix) : null)));
}

async function startConnect(ev) {
  ev.preventDefault();
  if (framed) return; // nothing to offer: see renderConnectFor
  const form = byId("connect-form");
  clearFieldErrors(form);
  show("connect-error", "");
  const environment = form.querySelector('input[name="environment"]:checked').value;
  const body = {environment};
  if (environment === "custom") {
    body.login_url = byId("login-url").value.trim();
    if (!body.login_url) {
      fieldError(form, "login_url", "Enter your My Domain's login URL, such as https://yourcompany.my.salesforce.com.");
      byId("login-url").focus();
      return;
    }
  }
  byId("connect-button").disabled = true;
  const r = await call("POST", "/v1/salesforce/connect", {body});
  byId("connect-button").disabled = false;
  if (!r.ok) {
    if (!fieldError(form, r.error.field, r.error.message)) show("connect-error", problem(r));
    return;
  }
  // Salesforce sends this same tab back here; the token stays in its
  // session storage and completes the connect.
  location.assign(r.data.authorize_url);
}

async function disconnect() {
  byId("disconnect-yes").disabled = true;
  const r = await call("DELETE", "/v1/salesforce");
  byId("disconnect-yes").disabled = false;
  byId("disconnect-confirm").hidden = true;
  if (!r.ok) {
    show("disconnect-result", problem(r));
    return;
  }
  byId("disconnect-result").textContent = "Disconnected. Syncs wait until an admin connects again.";
  await load();
}

// completeReturn finishes the OAuth return: Salesforce's consent sent the
// browser here with ?salesforce=consented&state&ticket (or denied&reason).
// Only the tab that holds the session of the admin who started the connect
// completes it; any other browser completes nothing.
export async function completeReturn(q, s) {
  const box = byId("conn-return");
  box.hidden = false;
  if (q.get("salesforce") !== "consented") {
    const reason = q.get("reason") || "";
    box.textContent = "Nothing was connected: " + (Object.hasOwn(deniedText, reason) ? deniedText[reason] : deniedGeneric) + ".";
    box.dataset.result = "denied";
    return;
  }
  if (!s) {
    box.textContent = "This browser tab holds no session of your team's admin, so it completes nothing. " +
      "The admin who started the connect finishes it in the tab where they started it.";
    box.dataset.result = "no_session";
    return;
  }
  box.textContent = "Completing the connect…";
  const r = await call("POST", "/v1/salesforce/connect/complete", {body: {state: q.get("state") || "", ticket: q.get("ticket") || ""}});
  if (!r.ok) {
    box.textContent = "Not connected: " + (r.status === 404
      ? "this consent does not match a connect you started in this tab, or it expired. Start again."
      : problem(r));
    box.dataset.result = "refused";
    return;
  }
  const c = r.data;
  box.textContent = "Connected: org " + (c.org_name ? c.org_name + " (" + c.org_id + ")" : c.org_id) + ", user " + c.username + ", " + c.instance_url + ".";
  box.dataset.result = "connected";
  if (!byId("page-connection").hidden) load();
}
