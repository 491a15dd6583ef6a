// The JSON API client: every request to /api/v1, with the bearer token of this tab when there is
// one; errors become `ApiError` carrying the API's `{"error": …}` message and the status code.

import { getToken } from './token.js';

/** The API, relative to the page: the dashboard also works under a reverse proxy's path prefix. */
export const API = 'api/v1';

/** An answer other than 2xx (or no answer at all: `status` 0). */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }

  /** The message to show a person, saying what to do about 401/403. */
  explain() {
    if (this.status === 401) return `The server does not accept this token (401): ${this.message}. Enter a valid token.`;
    if (this.status === 403) return `The token's role is too low for this (403): ${this.message}.`;
    if (this.status === 0) return `The server cannot be reached: ${this.message}`;
    return `${this.message} (${this.status})`;
  }
}

/** Whether reads need a token (the server runs with `--protect-reads`): learnt from a 401. */
export const access = { readsNeedToken: false };

const listeners = new Set();

/** Calls `fn()` whenever a read answered 401 (the page must ask for a token). */
export function onReadUnauthorized(fn) {
  listeners.add(fn);
}

/** `METHOD /api/v1PATH` with an optional JSON body; resolves to the parsed JSON answer. */
export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, e.message || String(e));
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.error) || text || response.statusText;
    const err = new ApiError(response.status, message);
    // Only for the token of this tab: a 401 for a token replaced since is stale.
    if (response.status === 401 && method === 'GET' && getToken() === token) {
      access.readsNeedToken = true;
      for (const fn of listeners) fn(err);
    }
    throw err;
  }
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body === undefined ? {} : body);
export const del = (path) => request('DELETE', path);

/** `encodeURIComponent` for path segments. */
export const enc = encodeURIComponent;
