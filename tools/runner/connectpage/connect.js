// The local stack's connect pages. The start page keeps the admin's token in
// this tab's sessionStorage and starts the connect; Salesforce sends the
// consenting browser back to the return page, which completes the connect
// only with a token this same tab holds. No token ever travels in a URL.
"use strict";

const tokenKey = "sfsync.adminToken";

function el(id) {
  return document.getElementById(id);
}

function show(id, text) {
  el(id).textContent = text;
}

async function post(path, body) {
  const resp = await fetch(path, {
    method: "POST",
    headers: {"Authorization": "Bearer " + sessionStorage.getItem(tokenKey), "Content-Type": "application/json"},
    body: JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  return {status: resp.status, data: data};
}

function errorText(r) {
  return r.status + " " + (r.data.error ? r.data.error.message : "");
}

function start() {
  el("start").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = el("token").value.trim();
    if (!token) {
      show("result", "Paste an admin token first.");
      return;
    }
    sessionStorage.setItem(tokenKey, token);
    const body = {environment: el("environment").value};
    if (body.environment === "custom") {
      body.login_url = el("login_url").value.trim();
    }
    const r = await post("/v1/salesforce/connect", body);
    if (r.status !== 200) {
      show("result", "The connect was refused: " + errorText(r));
      return;
    }
    location.assign(r.data.authorize_url);
  });
}

async function finish() {
  const q = new URLSearchParams(location.search);
  history.replaceState(null, "", location.pathname); // the ticket leaves the address bar and history
  show("salesforce", q.get("salesforce") || "(none)");
  show("state", q.get("state") || "(none)");
  show("ticket", q.get("ticket") ? "received (single use, not shown)" : "(none)");
  show("reason", q.get("reason") || "(none)");
  if (q.get("salesforce") !== "consented") {
    show("result", "Nothing to complete.");
    return;
  }
  if (!sessionStorage.getItem(tokenKey)) {
    show("result", "This browser holds no admin token of the team that started the connect, so it completes nothing. " +
      "The admin who started the connect finishes it in the browser tab where they started it.");
    return;
  }
  const r = await post("/v1/salesforce/connect/complete", {state: q.get("state"), ticket: q.get("ticket")});
  if (r.status === 200) {
    const org = r.data.org_name ? r.data.org_name + " (" + r.data.org_id + ")" : r.data.org_id;
    show("result", "Connected: org " + org + ", user " + r.data.username + ", " + r.data.instance_url + ".");
  } else {
    show("result", "Not connected: " + errorText(r));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (el("start")) {
    start();
  } else {
    finish();
  }
});
