// DOM helpers. Every string the API returns reaches the page as text
// (textContent, attribute values, text nodes): nothing here parses HTML, and
// the page's Trusted Types policy would refuse it.

const svgNS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) throw new Error("attach handlers with addEventListener, not " + k);
    if (k === "text") el.textContent = String(v);
    else if (k === "value" || k === "checked" || k === "disabled" || k === "selected") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

// h makes an HTML element: h("p", {class: "meta"}, "text", child, ...).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s makes an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(svgNS, tag), attrs, children);
}

export function byId(id) {
  return document.getElementById(id);
}

// show sets an element's text and shows it; an empty text hides it.
export function show(el, text) {
  if (typeof el === "string") el = byId(el);
  el.textContent = text || "";
  el.hidden = !text;
}

// fill replaces an element's children.
export function fill(el, ...children) {
  if (typeof el === "string") el = byId(el);
  el.replaceChildren();
  build(el, {}, children);
  return el;
}

export function on(el, type, fn) {
  if (typeof el === "string") el = byId(el);
  el.addEventListener(type, fn);
  return el;
}

// fieldErrors clears the errors shown beside a form's fields.
export function clearFieldErrors(root) {
  for (const f of root.querySelectorAll(".field.invalid")) f.classList.remove("invalid");
  for (const p of root.querySelectorAll(".field-error")) show(p, "");
}

// fieldError shows message beside the field the API named (error.field):
// the field whose data-field is the name, or the longest that starts it
// (activity_kinds for activity_kinds.opened, free_mail_domains for
// free_mail_domains[2]). It returns false when no field matches.
export function fieldError(root, name, message) {
  if (!name) return false;
  let best = null;
  for (const f of root.querySelectorAll("[data-field]")) {
    const key = f.dataset.field;
    const fits = name === key || name.startsWith(key + ".") || name.startsWith(key + "[");
    if (fits && (!best || key.length > best.dataset.field.length)) best = f;
  }
  if (!best) return false;
  best.classList.add("invalid");
  const p = best.querySelector(".field-error");
  if (p) show(p, message);
  const input = best.querySelector("input, select, textarea");
  if (input) input.setAttribute("aria-invalid", "true");
  return true;
}

export function clearInvalid(root) {
  for (const i of root.querySelectorAll("[aria-invalid]")) i.removeAttribute("aria-invalid");
}

const dateTime = new Intl.DateTimeFormat(undefined, {dateStyle: "medium", timeStyle: "short"});

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : dateTime.format(d);
}

export function number(n) {
  return typeof n === "number" ? n.toLocaleString() : String(n ?? "");
}

export function plural(n, one, many) {
  return n === 1 ? one : many;
}

// words turns a machine word into words: exists_in_salesforce → "exists in salesforce".
export function words(w) {
  return String(w || "").replace(/_/g, " ");
}

// details fills a <dl> with the pairs whose value is not empty.
export function details(dl, pairs) {
  fill(dl, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", {text: k}), h("dd", {}, v)]));
}
