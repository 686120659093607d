// The Settings page (the team's settings) and the Sequences page (one
// sequence's override). Both are versioned documents: the page keeps the
// ETag it read and saves with If-Match, so a change someone else saved in
// between is refused (412) and explained, never overwritten. A page that
// holds no version (its GET failed, or is on its way) saves nothing: it
// never sends If-Match: *, which would overwrite whatever is current.

import {call, problem, session} from "./api.js";
import {byId, show, on, when, plural, words, clearFieldErrors, clearInvalid, fieldError} from "./dom.js";

const kinds = ["sent", "replied", "opened", "clicked", "bounced"];
const checkboxes = ["deduplication", "activity_tracking", "allow_save_on_duplicate_alert", "bounce_writeback", "optout_writeback"];
const selects = ["sync_as", "sync_mode", "owner", "account_matching", "account_fallback"];
const numbers = ["api_budget_percent", "held_event_max_days", "retention_days"];

let etag = null; // the version on screen, the If-Match of a save; null while none is
let loadSeq = 0; // the newest load; an older one's answer is dropped
let loading = false;
let lock = () => {};

export const page = {
  init(lockWrites) {
    lock = lockWrites;
    on("settings-form", "submit", save);
    on("settings-reload", "click", () => load());
  },
  show() {
    if (!etag && !loading) load();
  },
};

// saveable enables the Save button only while the page holds the version
// on screen (and, through lock, only for an admin).
function saveable() {
  byId("settings-save").disabled = !etag || !session();
  lock(byId("page-settings"));
}

async function load() {
  const mine = ++loadSeq;
  loading = true;
  etag = null; // the version on screen is gone until this load answers
  saveable();
  const form = byId("settings-form");
  delete byId("page-settings").dataset.ready;
  clearFieldErrors(form);
  clearInvalid(form);
  show("settings-error", "");
  byId("settings-result").textContent = "";
  const r = await call("GET", "/v1/salesforce/settings");
  if (mine !== loadSeq) return; // a newer load shows
  loading = false;
  if (!r.ok) {
    byId("settings-version").textContent = "The settings could not be read, so they cannot be saved. Reload to try again.";
    show("settings-error", problem(r));
    return;
  }
  etag = r.etag || null;
  put(form, r.data);
  saveable();
  byId("page-settings").dataset.ready = "true";
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
  if (!etag) {
    show("settings-error", "Nothing was saved: the current settings were not read, so a save could overwrite a version you have not seen. Reload, then make your change.");
    return;
  }
  const mine = loadSeq;
  byId("settings-save").disabled = true;
  const r = await call("PUT", "/v1/salesforce/settings", {body: collect(form), ifMatch: etag});
  if (mine !== loadSeq) return; // reloaded since: the reload shows
  saveable();
  if (r.ok) {
    etag = r.etag || null;
    saveable();
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

let seq = null; // {id, etag, data}: the sequence on screen; null while none is
let lookupSeq = 0; // the newest look-up; an older one's answer is dropped

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
  // The sequence shown before, with its ETag, is gone: nothing saves to
  // this one with that one's version.
  const mine = ++lookupSeq;
  seq = null;
  byId("seq-form").hidden = true;
  delete byId("page-sequences").dataset.ready;
  if (!id) {
    fieldError(lookupForm, "sequence_id", "Enter the sequence's id, as the sequencer names it.");
    return;
  }
  // members=true: the count of contacts already in it, which the API
  // computes only when asked (it reads every membership).
  const r = await call("GET", "/v1/sequences/" + encodeURIComponent(id) + "/salesforce?members=true");
  if (mine !== lookupSeq) return; // a newer look-up shows
  if (!r.ok) {
    if (!fieldError(lookupForm, r.error.field === "sequence_id" ? "sequence_id" : "", r.error.message)) {
      fieldError(lookupForm, "sequence_id", problem(r));
    }
    return;
  }
  seq = {id, etag: r.etag || null, data: r.data};
  renderSequence();
  byId("seq-result").textContent = "";
  byId("seq-form").hidden = false;
  byId("page-sequences").dataset.ready = "true";
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
  byId("seq-save").disabled = !seq.etag || !session();
  lock(byId("page-sequences"));
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
  if (!seq || !seq.etag) {
    show("seq-error", "Nothing was saved: this sequence's current override was not read. Look it up again, then make your change.");
    return;
  }
  const mine = seq;
  byId("seq-save").disabled = true;
  const r = await call("PUT", "/v1/sequences/" + encodeURIComponent(seq.id) + "/salesforce", {body: formOverride(), ifMatch: seq.etag});
  if (seq !== mine) return; // another sequence is on screen now
  byId("seq-save").disabled = !session();
  lock(byId("page-sequences"));
  if (!r.ok) {
    if (!(r.status === 400 && fieldError(form, r.error.field, r.error.message))) show("seq-error", problem(r));
    return;
  }
  const members = seq.data.members;
  seq = {id: seq.id, etag: r.etag || null, data: {...r.data, members}};
  renderSequence();
  byId("seq-result").textContent = `Saved as version ${r.data.version}.` + (r.data.note ? " " + r.data.note : "");
}
