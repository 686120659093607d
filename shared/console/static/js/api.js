// The session and the calls to the public JSON API.
//
// The host app opens the console at /console/#token=<jwt>. The token moves
// to this tab's sessionStorage at once and leaves the address bar
// (history.replaceState); it is never read from the query string, never
// kept in the browser's local storage or a cookie, and only ever sent as the
// Authorization header of the API's own origin. Its claims are read for
// display only: the API checks the token and enforces the role.

const tokenKey = "sfsync.console.token";

// The API's root: the console lives at <root>/console/.
export const apiRoot = location.pathname.replace(/\/console\/.*$/, "");

// takeToken moves a token from the fragment to the tab's session storage
// and cleans the address. A token in the query string is refused (a query
// reaches servers and logs): it is dropped, unused, and the answer says so.
//
// On the OAuth return (?salesforce=...) a token in the fragment is dropped
// too, never stored: the connect completes only with the session this tab
// already held. Otherwise a crafted return link carrying someone else's
// token after # would complete the connect with that session (session
// fixation).
export function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const fromQuery = query.has("token");
  if (fromQuery) query.delete("token");
  const fromFragment = fragment.has("token");
  const oauthReturn = query.has("salesforce");
  if (fromFragment && !oauthReturn) {
    const token = fragment.get("token").trim();
    if (token) sessionStorage.setItem(tokenKey, token);
  }
  if (fromFragment || fromQuery) {
    const rest = query.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + "#connection");
  }
  return {refusedQueryToken: fromQuery, ignoredReturnToken: fromFragment && oauthReturn};
}

function decodePart(part) {
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
}

// session describes the tab's token, or null when it holds none.
export function session() {
  const token = sessionStorage.getItem(tokenKey);
  if (!token) return null;
  let claims = {};
  try {
    claims = decodePart(token.split(".")[1] || "");
  } catch {
    claims = {};
  }
  return {
    token,
    team: typeof claims.team_id === "string" ? claims.team_id : "",
    role: typeof claims.role === "string" ? claims.role : "",
    subject: typeof claims.sub === "string" ? claims.sub : "",
    expires: typeof claims.exp === "number" ? new Date(claims.exp * 1000) : null,
    admin: claims.role === "admin",
  };
}

export function forgetToken() {
  sessionStorage.removeItem(tokenKey);
}

const listeners = {sessionEnded: []};

export function onSessionEnded(fn) {
  listeners.sessionEnded.push(fn);
}

function sessionEnded() {
  forgetToken();
  for (const fn of listeners.sessionEnded) fn();
}

// call sends one request to the API and returns {status, ok, data, etag,
// error}; error is {code, message, field, retry_after} from the API's error
// body, or one made here for a network failure. A 401 ends the session.
export async function call(method, path, {body, ifMatch} = {}) {
  const s = session();
  if (!s) {
    sessionEnded();
    return {status: 401, ok: false, data: null, error: {code: "unauthorized", message: "no session"}};
  }
  const headers = {"Authorization": "Bearer " + s.token, "Accept": "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch) headers["If-Match"] = ifMatch;
  let resp;
  try {
    resp = await fetch(apiRoot + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", redirect: "error", referrerPolicy: "no-referrer",
    });
  } catch {
    return {status: 0, ok: false, data: null,
      error: {code: "network", message: "The API could not be reached. Check your connection and try again."}};
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  const result = {status: resp.status, ok: resp.ok, data, etag: resp.headers.get("ETag")};
  if (!resp.ok) {
    const e = data && typeof data.error === "object" && data.error ? data.error : {};
    result.error = {
      code: typeof e.code === "string" ? e.code : "http_" + resp.status,
      message: typeof e.message === "string" ? e.message : (data && typeof data.message === "string" ? data.message : "The API answered " + resp.status + "."),
      field: typeof e.field === "string" ? e.field : "",
      retryAfter: typeof e.retry_after === "number" ? e.retry_after : Number(resp.headers.get("Retry-After")) || 0,
    };
  }
  if (resp.status === 401) sessionEnded();
  return result;
}

// problem is the sentence a page shows for a failed call.
export function problem(r) {
  if (!r.error) return "";
  switch (r.status) {
    case 401:
      return "Your session ended; reopen the console from your app.";
    case 403:
      return "Only an admin of your team can do this.";
    case 412:
      return "Changed by someone else since you loaded it; nothing was saved. Reload to see the current version, then make your change again.";
    case 429:
      return r.error.message + (r.error.retryAfter ? ` (try again in ${r.error.retryAfter} s)` : "");
    default:
      return r.error.message;
  }
}
