// The one way the console talks to sessionplane: the public JSON API, with the caller's token.
// Every failure becomes an ApiError carrying Huawei's error_code, the message and the request id;
// a 401 forgets the token and returns to sign-in with the reason.
import { auth } from './auth.js';

export class ApiError extends Error {
  constructor({ status, code, message, requestId }) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }

  get readable() {
    const where = [this.code, this.requestId && `request ${this.requestId}`].filter(Boolean).join(', ');
    return where ? `${this.message} (${where})` : this.message;
  }
}

const listeners = new Set();
export function onUnauthorized(listener) {
  listeners.add(listener);
}

function urlOf(path, query) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  return url;
}

async function parse(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { error_msg: text.slice(0, 200) };
  }
}

export async function request(method, path, { query, body, headers = {}, anonymous = false } = {}) {
  const sent = { Accept: 'application/json', ...headers };
  if (!anonymous && auth.token) sent['X-Auth-Token'] = auth.token;
  if (body !== undefined) sent['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(urlOf(path, query), {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError({ status: 0, code: '', message: 'The server cannot be reached.', requestId: '' });
  }
  const requestId = response.headers.get('X-Request-Id') || '';
  const data = await parse(response);
  if (!response.ok) {
    const error = new ApiError({
      status: response.status,
      code: data?.error_code || `HTTP ${response.status}`,
      message: data?.error_msg || response.statusText || 'Request failed',
      requestId: data?.request_id || requestId,
    });
    if (response.status === 401 && !anonymous) {
      auth.forget(`Signed out: ${error.readable}`);
      for (const listener of listeners) listener(error);
    }
    throw error;
  }
  return { data, headers: response.headers, requestId };
}

export const get = async (path, query) => (await request('GET', path, { query })).data;
export const post = async (path, body, query) => (await request('POST', path, { body, query })).data;
export const patch = async (path, body) => (await request('PATCH', path, { body })).data;
export const del = async (path, { body, query } = {}) => (await request('DELETE', path, { body, query })).data;

const segment = encodeURIComponent;
export const v3 = (path) => `/v3/${segment(auth.projectId)}${path}`;
export const ext = (path) => `/sessionplane/v1/${segment(auth.projectId)}${path}`;
export { segment };
