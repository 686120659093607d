// The Settings page (the team's settings) and the Sequences page (one
// sequence's override). Both are versioned documents: the page keeps the
// ETag it read and saves with If-Match, so a change someone else saved in
// between is refused (412) and explained, never overwritten.

import {call, problem} from "./api.js";
import {byId, show, on, when, plural, words, clearFieldErrors, clearInvalid, fieldError} from "./dom.js";

const kinds = ["sent", "replied", "opened", "clicked", "bounced"];
const checkboxes = ["deduplication", "activity_tracking", "allow_save_on_duplicate_alert", "bounce_writeback", "optout_writeback"];
const selects = ["sync_as", "sync_mode", "owner", "account_matching", "account_fallback"];
const numbers = ["api_budget_percent", "held_event_max_days", "retention_days"];

let etag = null;
let lock = () => {};

export const page = {
  init(lockWrites) {
    lock = lockWrites;
    on("settings-form", "submit", save);
    on("settings-reload", "click", () => load());
  },
  show() {
    if (!etag) load();
  },
};

async function load() {
  const form = byId("settings-form");
  clearFieldErrors(form);
  clearInvalid(form);
  show("settings-error", "");
  byId("settings-result").textContent = "";
  const r = await call("GET", "/v1/salesforce/settings");
  if (!r.ok) {
    show("settings-error", problem(r));
    return;
  }
  etag = r.etag;
  put(form, r.data);
  byId("page-settings").dataset.ready = "true";
  lock(byId("page-settings"));
}

function version(d) {
  return d.version === 0 ? "Defaults: no settings saved yet." : `Version ${d.version}, saved ${when(d.effective_at)}${d.updated_by ? " by " + d.updated_by : ""}.`;
}

function put(form, d) {
  const st = d.settings || {};
  byId("settings-version").textContent = version(d);
  for (const k of selects) form.elements[k].value = st[k] ?? "";
  for (const k of checkboxes) form.elements[k].checked = !!st[k];
  for (const k of numbers) form.elements[k].value = st[k] ?? "";
  for (const k of kinds) form.elements["kind_" + k].checked = !!(st.activity_kinds && st.activity_kinds[k]);
  form.elements.owner_fallback_user_id.value = st.owner_fallback_user_id || "";
  form.elements.time_zone.value = st.time_zone || "";
  form.elements.free_mail_domains.value = (st.free_mail_domains || []).join("\n");
}

// wholeOrText sends a whole number as a number and anything else as typed,
// so the API names the field and says what it accepts.
function wholeOrText(v) {
  const t = v.trim();
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

function collect(form) {
  const doc = {};
  for (const k of selects) doc[k] = form.elements[k].value;
  for (const k of checkboxes) doc[k] = form.elements[k].checked;
  for (const k of numbers) doc[k] = wholeOrText(form.elements[k].value);
  doc.activity_kinds = Object.fromEntries(kinds.map((k) => [k, form.elements["kind_" + k].checked]));
  const fallback = form.elements.owner_fallback_user_id.value.trim();
  if (fallback) doc.owner_fallback_user_id = fallback;
  const tz = form.elements.time_zone.value.trim();
  if (tz) doc.time_zone = tz; // left out: the connected user's time zone
  doc.free_mail_domains = form.elements.free_mail_domains.value.split(/\s+/).map((x) => x.trim()).filter(Boolean);
  return doc;
}

async function save(ev) {
  ev.preventDefault();
  const form = byId("settings-form");
  clearFieldErrors(form);
  clearInvalid(form);
  show("settings-error", "");
  byId("settings-result").textContent = "";
  byId("settings-save").disabled = true;
  const r = await call("PUT", "/v1/salesforce/settings", {body: collect(form), ifMatch: etag || "*"});
  byId("settings-save").disabled = false;
  lock(byId("page-settings"));
  if (r.ok) {
    etag = r.etag;
    put(form, r.data);
    byId("settings-result").textContent = `Saved as version ${r.data.version}. Contacts already in a sequence keep the settings they were added under.`;
    return;
  }
  if (r.status === 400 && fieldError(form, r.error.field, r.error.message)) {
    show("settings-error", "Nothing was saved: fix the field marked below.");
    const bad = form.querySelector(".field.invalid input, .field.invalid select, .field.invalid textarea");
    if (bad) bad.focus();
    return;
  }
  show("settings-error", problem(r));
}

// ---- Sequences ----

let seq = null; // {id, etag, data}

export const sequencesPage = {
  init() {
    on("seq-lookup", "submit", lookup);
    on("seq-form", "submit", saveSequence);
    on("seq-form", "change", warn);
  },
  show() {},
};

async function lookup(ev) {
  ev.preventDefault();
  const lookupForm = byId("seq-lookup");
  clearFieldErrors(lookupForm);
  const id = byId("seq-id").value.trim();
  if (!id) {
    fieldError(lookupForm, "sequence_id", "Enter the sequence's id, as the sequencer names it.");
    return;
  }
  const r = await call("GET", "/v1/sequences/" + encodeURIComponent(id) + "/salesforce");
  if (!r.ok) {
    byId("seq-form").hidden = true;
    if (!fieldError(lookupForm, r.error.field === "sequence_id" ? "sequence_id" : "", r.error.message)) {
      fieldError(lookupForm, "sequence_id", problem(r));
    }
    return;
  }
  seq = {id, etag: r.etag, data: r.data};
  renderSequence();
  byId("seq-result").textContent = "";
  byId("seq-form").hidden = false;
  byId("page-sequences").dataset.ready = "true";
  lock(byId("page-sequences"));
}

function renderSequence() {
  const form = byId("seq-form");
  const d = seq.data;
  clearFieldErrors(form);
  show("seq-error", "");
  byId("seq-title").textContent = "Sequence " + d.sequence_id;
  byId("seq-version").textContent = d.version === 0
    ? "No override saved: the sequence follows the team's settings."
    : `Override version ${d.version}, saved ${when(d.effective_at)}${d.updated_by ? " by " + d.updated_by : ""}.`;
  form.elements.sync_mode.value = d.override.sync_mode;
  form.elements.sync_as.value = d.override.sync_as;
  form.elements.sync_disabled.checked = !!d.override.sync_disabled;
  const e = d.effective || {};
  byId("seq-effective").textContent = e.reason
    ? `Contacts added now never sync (${words(e.reason)}).`
    : `Contacts added now sync as ${e.sync_as === "contact" ? "Contacts" : "Leads"}, ${e.sync_mode === "on_reply" ? "when they reply" : "when added"}.`;
  warn();
}

function formOverride() {
  const form = byId("seq-form");
  return {sync_mode: form.elements.sync_mode.value, sync_as: form.elements.sync_as.value, sync_disabled: form.elements.sync_disabled.checked};
}

// warn says, before the save, who a change of the rule does not reach: the
// contacts already added keep the rule pinned when they were added.
function warn() {
  if (!seq) return;
  const o = seq.data.override;
  const next = formOverride();
  const changed = o.sync_mode !== next.sync_mode || o.sync_as !== next.sync_as || !!o.sync_disabled !== next.sync_disabled;
  const n = seq.data.members;
  if (!changed || n === 0) {
    show("seq-warning", "");
    return;
  }
  show("seq-warning", typeof n === "number"
    ? `${n} ${plural(n, "contact", "contacts")} already in this sequence ${plural(n, "keeps", "keep")} the rule ${plural(n, "it was", "they were")} added under. The change applies to contacts added from now on.`
    : "Contacts already in this sequence keep the rule they were added under. The change applies to contacts added from now on.");
}

async function saveSequence(ev) {
  ev.preventDefault();
  const form = byId("seq-form");
  clearFieldErrors(form);
  show("seq-error", "");
  byId("seq-result").textContent = "";
  byId("seq-save").disabled = true;
  const r = await call("PUT", "/v1/sequences/" + encodeURIComponent(seq.id) + "/salesforce", {body: formOverride(), ifMatch: seq.etag || "*"});
  byId("seq-save").disabled = false;
  lock(byId("page-sequences"));
  if (!r.ok) {
    if (!(r.status === 400 && fieldError(form, r.error.field, r.error.message))) show("seq-error", problem(r));
    return;
  }
  const members = seq.data.members;
  seq = {id: seq.id, etag: r.etag, data: {...r.data, members}};
  renderSequence();
  byId("seq-result").textContent = `Saved as version ${r.data.version}.` + (r.data.note ? " " + r.data.note : "");
}
