// The one way the app talks to the API: base URL from config.js, the bearer token, and RFC 9457
// problem details turned into an ApiError whose message a person can act on.

const TOKEN_KEY = "careforall.token";
const USER_KEY = "careforall.user";

export function config() {
  return window.CAREFORALL_CONFIG || {};
}

export function apiUrl(path, query = {}) {
  const base = String(config().apiBase || "").replace(/\/+$/, "");
  return base + path + queryString(query);
}

/** ws(s)://<this host>/ws unless config.js names another endpoint. */
export function wsUrl(query = {}) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return (config().wsUrl || `${scheme}//${location.host}/ws`) + queryString(query);
}

function queryString(query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

// ------------------------------------------------------------------ the signed-in user

export const session = {
  get token() {
    return localStorage.getItem(TOKEN_KEY);
  },
  get user() {
    try {
      return JSON.parse(localStorage.getItem(USER_KEY) || "null");
    } catch {
      return null;
    }
  },
  get isAdmin() {
    return this.user?.role === "ADMIN";
  },
  signIn(token, user) {
    localStorage.setItem(TOKEN_KEY, token);
    localStorage.setItem(USER_KEY, JSON.stringify(user));
    window.dispatchEvent(new CustomEvent("careforall:session"));
  },
  setUser(user) {
    localStorage.setItem(USER_KEY, JSON.stringify(user));
    window.dispatchEvent(new CustomEvent("careforall:session"));
  },
  signOut() {
    const had = this.token !== null;
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
    if (had) window.dispatchEvent(new CustomEvent("careforall:session"));
  },
};

// ------------------------------------------------------------------ errors

export class ApiError extends Error {
  constructor({message, status = 0, type = "", title = "", detail = "", fieldErrors = {}, correlationId = null,
               retryAfter = null, retryable = false}) {
    super(message);
    Object.assign(this, {name: "ApiError", status, type, title, detail, fieldErrors, correlationId, retryAfter,
                         retryable});
  }

  /** The problem type's last path segment, e.g. "campaign-not-active". */
  get kind() {
    return String(this.type || "").split("/").pop();
  }
}

/** `errors[].loc/msg` of a 422 as {fieldName: message}; "_form" for errors about the body as a whole. */
export function fieldErrorsOf(problem) {
  const fields = {};
  for (const item of Array.isArray(problem?.errors) ? problem.errors : []) {
    const names = (Array.isArray(item.loc) ? item.loc : []).filter(
      (part) => typeof part === "string" && !["body", "query", "path", "header"].includes(part));
    const name = names.length ? names[names.length - 1] : "_form";
    const message = String(item.msg || "is not valid").replace(/^(Value|Assertion) error, /, "");
    fields[name] = fields[name] ? `${fields[name]}; ${message}` : message;
  }
  return fields;
}

function problemError(response, problem, correlationId, sentToken) {
  const status = response.status;
  const body = problem && typeof problem === "object" ? problem : {};
  const detail = typeof body.detail === "string" ? body.detail : "";
  const base = {status, type: String(body.type || ""), title: String(body.title || ""), detail, correlationId};
  const kind = base.type.split("/").pop();
  if (status === 400) {
    return new ApiError({...base, message: `The request was not understood${detail ? `: ${detail}` : "."}`});
  }
  if (status === 401) {
    if (sentToken) {
      session.signOut();
      return new ApiError({...base, message: "Your sign-in has expired or is no longer valid. Please sign in again."});
    }
    return new ApiError({...base, message: detail || "Please sign in to do this."});
  }
  if (status === 403) {
    return new ApiError({...base, message: `You are not allowed to do this${detail ? `: ${detail}` : "."}`});
  }
  if (status === 404) {
    return new ApiError({...base, message: "Not found: it may have been removed, or the link is wrong."});
  }
  if (status === 409) {
    if (kind === "idempotency-key-in-flight") {
      return new ApiError({...base, retryable: true, retryAfter: retryAfterSeconds(response) ?? 1,
                           message: "Your request is still being processed. It is safe to retry: it will not be made twice."});
    }
    if (kind === "campaign-not-active") {
      return new ApiError({...base, message: "This campaign is not accepting donations any more."});
    }
    return new ApiError({...base, message: detail || "That clashes with the current state. Reload the page and try again."});
  }
  if (status === 413) {
    return new ApiError({...base, message: "That is too large to send. Please shorten the text and try again."});
  }
  if (status === 422) {
    const fieldErrors = fieldErrorsOf(body);
    if (kind === "idempotency-key-reuse") {
      return new ApiError({...base, fieldErrors,
                           message: "This donation attempt was already sent with different details. Start a new donation."});
    }
    return new ApiError({...base, fieldErrors, message: "Some details need correcting: see the messages next to the fields."});
  }
  if (status === 429) {
    const wait = retryAfterSeconds(response);
    return new ApiError({...base, retryable: true, retryAfter: wait,
                         message: `Too many attempts. Please wait ${wait ?? "a few"} seconds and try again.`});
  }
  if (status >= 500) {
    return new ApiError({...base, retryable: true,
                         message: "Something went wrong on our side. It is safe to try again."});
  }
  return new ApiError({...base, message: detail || `Unexpected answer from the server (${status}).`});
}

function retryAfterSeconds(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

// ------------------------------------------------------------------ requests

/** fetch + JSON + problem details. Resolves to {data, status, headers, correlationId}; rejects with ApiError. */
export async function request(method, path, {query, body, headers = {}, auth = true, signal} = {}) {
  const sent = {Accept: "application/json, application/problem+json", ...headers};
  const token = auth ? session.token : null;
  if (token) sent.Authorization = `Bearer ${token}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path, query), {
      method, headers: sent, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: "no-store"});
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError({retryable: true,
                        message: "We could not reach CareForAll (a network problem). It is safe to try again."});
  }
  const correlationId = response.headers.get("X-Correlation-Id");
  const text = await response.text().catch(() => "");
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) throw problemError(response, data, correlationId, Boolean(sent.Authorization));
  return {data, status: response.status, headers: response.headers, correlationId};
}

export const api = {
  get: (path, options) => request("GET", path, options).then((r) => r.data),
  post: (path, body, options) => request("POST", path, {...options, body}).then((r) => r.data),
  patch: (path, body, options) => request("PATCH", path, {...options, body}).then((r) => r.data),
};
