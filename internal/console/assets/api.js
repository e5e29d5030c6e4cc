// api.js: the console's one way to the HTTP API (/v1). Errors come back as
// ApiError, which carries the RFC 9457 problem the API answered with.

const base = '/v1';
const tokenKey = 'bora.token';

// ApiError is a failed call: an API problem, another HTTP error, or no
// answer at all (status 0).
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  get title() {
    return this.problem.title || (this.status ? `HTTP ${this.status}` : 'No answer');
  }
}

// token is the bearer token `bora serve --token` asks for, kept for this
// browser tab only.
export function token() {
  return sessionStorage.getItem(tokenKey) || '';
}

export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// onUnauthorized is called when the API asks for a token.
let unauthorized = () => {};
export function onUnauthorized(f) {
  unauthorized = f;
}

// parseJSON parses an answer, keeping every number as written where a
// JavaScript number would change it (a 64-bit id, 1.10): such a number
// becomes raw JSON, which JSON.stringify writes back as it came.
export function parseJSON(text) {
  return JSON.parse(text, keepDigits);
}

function keepDigits(key, value, ctx) {
  if (typeof value === 'number' && ctx && typeof ctx.source === 'string' && typeof JSON.rawJSON === 'function' && String(value) !== ctx.source) {
    return JSON.rawJSON(ctx.source);
  }
  return value;
}

// call sends one request. opts: query (object; empty values left out),
// json (a value sent as JSON), raw (a JSON text sent as it is), yaml (a
// YAML text), headers, signal.
export async function call(method, path, opts = {}) {
  const url = new URL(base + path, location.origin);
  for (const [k, v] of Object.entries(opts.query || {})) {
    if (v !== '' && v != null && v !== false) url.searchParams.set(k, String(v));
  }
  const headers = {Accept: 'application/json, application/problem+json', 'X-Bora-Console': '1', ...opts.headers};
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = opts.raw;
  } else if (opts.yaml !== undefined) {
    headers['Content-Type'] = 'application/yaml';
    body = opts.yaml;
  }
  let resp;
  try {
    resp = await fetch(url, {method, headers, body, signal: opts.signal, cache: 'no-store', credentials: 'same-origin'});
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, {title: 'The API did not answer', detail: `${method} ${url.pathname}: ${err.message}. Is the server still running?`});
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  const ctype = resp.headers.get('Content-Type') || '';
  let data = null;
  if (/json/.test(ctype) && text) {
    try {
      data = parseJSON(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const p = data && typeof data === 'object' && data.title ? data : {
      title: `${resp.status} ${resp.statusText}`,
      detail: (data && data.message) || text.slice(0, 300) || `${method} ${url.pathname} answered ${resp.status}`,
    };
    const err = new ApiError(resp.status, p);
    if (resp.status === 401) unauthorized(err);
    throw err;
  }
  if (data === null && text) {
    throw new ApiError(resp.status, {title: 'Unexpected answer', detail: `${method} ${url.pathname} answered ${ctype || 'no content type'}, not JSON`});
  }
  return data;
}

export const get = (path, query, signal) => call('GET', path, {query, signal});

// Paths.
export const enc = encodeURIComponent;
export const executionPath = (id) => `/executions/${enc(id)}`;
export const workflowPath = (name, version) => `/workflows/${enc(name)}` + (version ? `/versions/${version}` : '');

// graphs caches compiled workflow graphs: a stored version never changes.
const graphs = new Map();
export function graph(definition, version) {
  const key = `${definition}\u0000${version}`;
  if (!graphs.has(key)) {
    const p = get(workflowPath(definition, version) + '/graph');
    p.catch(() => graphs.delete(key));
    graphs.set(key, p);
  }
  return graphs.get(key);
}
