// The console's shell: the session, the tabs (hash links), the member's
// read-only mode, and the pages.

import {takeToken, session, onSessionEnded} from "./api.js";
import {byId, show} from "./dom.js";
import * as connection from "./connection.js";
import * as settings from "./settings.js";
import * as mapping from "./mapping.js";
import * as health from "./health.js";

const pages = {
  connection: connection.page,
  settings: settings.page,
  sequences: settings.sequencesPage,
  mapping: mapping.page,
  health: health.page,
};

const ended = "Your session ended; reopen the console from your app.";

// lockWrites disables every control that changes something when the tab's
// token is not an admin's. The API refuses such a change anyway (403); the
// page says so before anyone tries.
export function lockWrites(root) {
  const s = session();
  if (s && s.admin) return;
  for (const el of root.querySelectorAll("[data-write]")) {
    el.disabled = true;
    el.setAttribute("aria-disabled", "true");
  }
}

function endSession() {
  show("banner", ended);
  byId("who").textContent = "Signed out";
  for (const el of document.querySelectorAll("main button, main input, main select, main textarea")) el.disabled = true;
}

// route shows the page the hash names; load (when the tab holds a live
// session) fetches what it shows.
function route(load = true, focus = false) {
  const name = location.hash.slice(1) || "connection";
  if (!pages[name]) return;
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.dataset.page !== name;
  for (const a of document.querySelectorAll(".tabs a")) {
    if (a.dataset.tab === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const section = byId("page-" + name);
  if (load) pages[name].show(section);
  lockWrites(section);
  // A tab chosen from the keyboard or a screen reader lands on its page.
  if (focus) section.querySelector("h2").focus();
}

function start() {
  const {refusedQueryToken, ignoredReturnToken} = takeToken();
  const returning = new URLSearchParams(location.search);
  const s = session();
  onSessionEnded(endSession);
  window.addEventListener("hashchange", () => route(!!session(), true));
  for (const [, p] of Object.entries(pages)) p.init(lockWrites);
  if (returning.has("salesforce")) {
    // The OAuth return: the ticket leaves the address bar and history
    // before anything else happens.
    history.replaceState(null, "", location.pathname + "#connection");
    connection.completeReturn(returning, s);
  }
  if (refusedQueryToken) {
    show("banner", "A token in the address's query was refused: the app must put it after # (the fragment). Reopen the console from your app.");
  } else if (ignoredReturnToken) {
    show("banner", "The link back from Salesforce carried a session of its own; it was ignored. The console completes a connect only with the session this tab already held.");
  }
  if (!s) {
    if (!returning.has("salesforce") && !refusedQueryToken) show("banner", "This tab holds no session. Open the console from your app.");
    byId("who").textContent = "No session";
    for (const el of document.querySelectorAll("main button, main input, main select, main textarea")) el.disabled = true;
    route(false);
    return;
  }
  if (s.expires && s.expires <= new Date()) {
    endSession();
    route(false);
    return;
  }
  byId("who").textContent = (s.team ? "Team " + s.team : "Your team") + " · " + (s.admin ? "admin" : (s.role || "member"));
  byId("readonly-note").hidden = s.admin;
  route();
}

start();
