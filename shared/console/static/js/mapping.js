// The Field mapping page: the rows of the Lead or Contact mapping, each a
// Salesforce field (chosen among those the connected user can create, from
// the org's describe) filled from a contact field, a constant or a
// template; the preflight's problems beside their rows when a save is
// refused; and a live preview of a sample contact rendered through the rows
// as they stand, which writes nothing.

import {call, problem, session} from "./api.js";
import {byId, h, fill, show, on, when, plural} from "./dom.js";

const kinds = [
  ["field", "a contact field"],
  ["constant", "a constant"],
  ["template", "a template"],
];

let object = "lead";
// etag is the version of the mapping on screen, the If-Match of a save; null
// while none is (a load on its way, a GET that failed). Without it nothing
// is saved: an If-Match of * would overwrite whatever version is current.
let etag = null;
let loadSeq = 0; // the newest load; an older one's answer is dropped
let orgFields = []; // the org's createable fields, sorted by label
let loaded = false;
let rowSeq = 0;
let previewTimer = null;
let previewSeq = 0;
let lock = () => {};

export const page = {
  init(lockWrites) {
    lock = lockWrites;
    for (const r of document.querySelectorAll('input[name="mapping_object"]')) {
      on(r, "change", () => {
        object = r.value;
        load();
      });
    }
    on("mapping-add", "click", () => {
      const li = row({salesforce_field: "", source: {field: ""}});
      byId("mapping-rows").append(li);
      li.querySelector("select").focus();
      schedulePreview();
    });
    on("mapping-form", "submit", save);
    on("mapping-form", "input", schedulePreview);
    on("mapping-form", "change", schedulePreview);
    on("mapping-reload", "click", () => load());
    on("preview-contact", "input", schedulePreview);
    on("preview-contact", "submit", (ev) => ev.preventDefault());
  },
  show() {
    if (!loaded) load();
  },
};

// saveable enables the Save button only while the page holds the version
// on screen (and, through lock, only for an admin).
function saveable() {
  byId("mapping-save").disabled = !etag || !session();
  lock(byId("page-mapping"));
}

async function load() {
  loaded = true;
  const mine = ++loadSeq;
  etag = null; // the version on screen is gone until this load answers
  saveable();
  const section = byId("page-mapping");
  delete section.dataset.ready;
  byId("mapping-result").textContent = "";
  byId("mapping-version").textContent = "Loading…";
  fill("mapping-rows");
  showProblems([]);
  const [m, f] = await Promise.all([
    call("GET", `/v1/salesforce/field-mappings/${object}`),
    call("GET", `/v1/salesforce/field-mappings/${object}/fields`),
  ]);
  if (mine !== loadSeq) return; // another object or a reload since: its load shows
  if (f.ok) {
    orgFields = Array.isArray(f.data.fields) ? f.data.fields : [];
    show("mapping-fields-note", "");
  } else {
    orgFields = [];
    show("mapping-fields-note", "The org's fields could not be read (" + problem(f) + "). Connect Salesforce to choose among them.");
  }
  if (!m.ok) {
    fill("mapping-rows");
    byId("mapping-version").textContent = "The mapping could not be read, so it cannot be saved. Reload to try again.";
    showProblems([{message: problem(m)}]);
    return;
  }
  etag = m.etag || null;
  render(m.data);
  saveable();
  section.dataset.ready = "true";
  schedulePreview(0);
}

function render(d) {
  byId("mapping-version").textContent = d.default
    ? "The shipped mapping of the standard fields: nothing saved yet."
    : `Version ${d.version}, saved ${when(d.effective_at)}${d.updated_by ? " by " + d.updated_by : ""}.`;
  fill("mapping-rows", (d.fields || []).map(row));
  lock(byId("page-mapping"));
}

function sourceKind(src) {
  if (src && typeof src.constant === "string") return "constant";
  if (src && typeof src.template === "string" && src.template !== "") return "template";
  return "field";
}

function fieldOptions(current) {
  const opts = [h("option", {value: "", text: "Choose a field…"})];
  let found = false;
  for (const f of orgFields) {
    if (f.name === current) found = true;
    opts.push(h("option", {value: f.name, selected: f.name === current,
      text: `${f.label} (${f.name})${f.required ? ", required" : ""}${f.type ? " · " + f.type : ""}`}));
  }
  if (current && !found) {
    opts.push(h("option", {value: current, selected: true, text: `${current} (not among the fields you can create)`}));
  }
  return opts;
}

// row builds one mapping row's controls.
function row(rule) {
  const n = ++rowSeq;
  const kind = sourceKind(rule.source);
  const value = rule.source ? (rule.source[kind] ?? "") : "";
  const sfSelect = h("select", {id: `m-sf-${n}`, name: "salesforce_field", "data-write": true}, fieldOptions(rule.salesforce_field));
  const kindSelect = h("select", {id: `m-kind-${n}`, name: "kind", "data-write": true},
    kinds.map(([k, label]) => h("option", {value: k, selected: k === kind, text: label})));
  sfSelect.value = rule.salesforce_field || "";
  kindSelect.value = kind;
  const valueLabel = h("label", {for: `m-value-${n}`});
  const valueInput = h("input", {id: `m-value-${n}`, name: "value", type: "text", autocomplete: "off", spellcheck: "false", value, "data-write": true});
  const onEmpty = h("input", {id: `m-empty-${n}`, name: "on_empty", type: "text", autocomplete: "off", value: rule.on_empty ?? "", "data-write": true});
  const remove = h("button", {type: "button", class: "link", "data-write": true, text: "Remove this row"});
  const li = h("li", {class: "row"},
    h("div", {class: "row-grid"},
      h("div", {class: "field"}, h("label", {for: sfSelect.id, text: "Salesforce field"}), sfSelect),
      h("div", {class: "field"}, h("label", {for: kindSelect.id, text: "Filled from"}), kindSelect),
      h("div", {class: "field"}, valueLabel, valueInput),
      h("div", {class: "field"}, h("label", {for: onEmpty.id, text: "When empty, write"}), onEmpty)),
    h("ul", {class: "row-problems", "aria-live": "polite"}),
    h("p", {}, remove));
  const relabel = () => {
    const k = kindSelect.value;
    valueLabel.textContent = k === "field" ? "Contact field" : k === "constant" ? "Constant" : "Template, e.g. {{first_name}} {{last_name}}";
    if (k === "field") valueInput.setAttribute("list", "contact-fields");
    else valueInput.removeAttribute("list");
  };
  relabel();
  on(kindSelect, "change", relabel);
  on(remove, "click", () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    schedulePreview();
    if (next) next.querySelector("select").focus();
    else byId("mapping-add").focus();
  });
  return li;
}

// collect reads the rows, in their order, as the API's mapping.
function collect() {
  return [...byId("mapping-rows").children].map((li) => {
    const get = (name) => li.querySelector(`[name="${name}"]`).value;
    const rule = {salesforce_field: get("salesforce_field"), source: {[get("kind")]: get("value")}};
    const empty = get("on_empty");
    if (empty !== "") rule.on_empty = empty;
    return rule;
  });
}

// showProblems puts each preflight problem beside its row, and those of
// no row (a required field left unmapped) in the list under the rows.
function showProblems(problems) {
  const rows = [...byId("mapping-rows").children];
  for (const li of rows) {
    li.classList.remove("has-problem");
    fill(li.querySelector(".row-problems"));
  }
  const general = [];
  for (const p of problems) {
    const li = Number.isInteger(p.row) ? rows[p.row] : null;
    if (li) {
      li.classList.add("has-problem");
      li.querySelector(".row-problems").append(h("li", {"data-code": p.code || "", text: p.message}));
    } else {
      general.push(p);
    }
  }
  const box = byId("mapping-problems");
  fill(box, general.length ? h("ul", {}, general.map((p) => h("li", {"data-code": p.code || "", text: p.message}))) : null);
  box.hidden = general.length === 0;
}

async function save(ev) {
  ev.preventDefault();
  if (!etag) {
    // The reason the mapping was not read stays shown.
    byId("mapping-result").textContent = "Nothing was saved: the current mapping was not read, so a save could overwrite a version you have not seen. Reload, then make your change.";
    return;
  }
  byId("mapping-result").textContent = "";
  showProblems([]);
  const mine = loadSeq;
  byId("mapping-save").disabled = true;
  const r = await call("PUT", `/v1/salesforce/field-mappings/${object}`, {body: {fields: collect()}, ifMatch: etag});
  if (mine !== loadSeq) return; // the page shows another object or a reload now
  saveable();
  if (!r.ok) {
    const problems = r.data && Array.isArray(r.data.problems) ? r.data.problems : [{message: problem(r)}];
    showProblems(problems);
    const n = problems.length;
    byId("mapping-result").textContent = r.data && Array.isArray(r.data.problems)
      ? `Nothing was saved: the org refuses this mapping (${n} ${plural(n, "problem", "problems")}, shown beside the rows).`
      : "Nothing was saved.";
    const first = byId("mapping-rows").querySelector(".has-problem select");
    if (first) first.focus();
    return;
  }
  etag = r.etag || null;
  render(r.data);
  saveable();
  const keep = r.data.contacts_keeping_previous_version;
  byId("mapping-result").textContent = `Saved as version ${r.data.version}.` +
    (keep ? ` ${keep} ${plural(keep, "contact", "contacts")} synced before ${plural(keep, "keeps its", "keep their")} values.` : "") +
    (r.data.note ? " " + r.data.note : "");
  schedulePreview(0);
}

function schedulePreview(delay = 300) {
  if (typeof delay !== "number") delay = 300;
  clearTimeout(previewTimer);
  previewTimer = setTimeout(preview, delay);
}

function sampleContact() {
  const contact = {};
  for (const el of byId("preview-contact").elements) {
    if (el.name && el.value.trim()) contact[el.name] = el.value.trim();
  }
  return contact;
}

async function preview() {
  const mine = ++previewSeq;
  const r = await call("POST", `/v1/salesforce/field-mappings/${object}/preview`, {body: {contact: sampleContact(), mapping: {fields: collect()}}});
  if (mine !== previewSeq) return; // a newer preview is on its way
  const record = byId("preview-record");
  const problems = r.ok ? (r.data.problems || []) : (r.data && Array.isArray(r.data.problems) ? r.data.problems : [{message: problem(r)}]);
  fill("preview-problems", problems.map((p) => h("li", {text: (Number.isInteger(p.row) ? `Row ${p.row + 1}: ` : "") + p.message})));
  if (!r.ok) {
    fill(record);
    byId("preview-meta").textContent = "No preview: the rows as they stand cannot render.";
    return;
  }
  const d = r.data;
  byId("preview-meta").textContent = `The ${d.object} a sync would send for this contact` +
    (d.typed ? ", typed and trimmed by the org's fields." : " (plain text: the org's fields are not read yet).");
  fill(record, Object.entries(d.record || {}).map(([k, v]) => [h("dt", {text: k}), h("dd", {text: String(v)})]));
}
