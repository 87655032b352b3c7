// Which sessionplane extensions this server offers, read once from its OpenAPI document (public),
// so the console uses the richer endpoint when it exists and the GeminiDB one otherwise.
import { request } from './api.js';

const ENDPOINTS = {
  history: 'GET /sessionplane/v1/{}/instances/{}/session-history',
  growth: 'GET /sessionplane/v1/{}/instances/{}/session-growth',
  rules: 'GET /sessionplane/v1/{}/instances/{}/close-rules',
  audit: 'GET /sessionplane/v1/{}/audit',
  permissions: 'GET /sessionplane/v1/{}/permissions',
};

let known = null;

function operations(document) {
  const found = new Set();
  for (const [path, methods] of Object.entries(document?.paths || {})) {
    const shape = path.replace(/\{[^}]*\}/g, '{}');
    for (const method of Object.keys(methods)) found.add(`${method.toUpperCase()} ${shape}`);
  }
  return found;
}

export async function features() {
  if (known) return known;
  let offered;
  try {
    offered = operations((await request('GET', '/openapi.json', { anonymous: true })).data);
  } catch {
    offered = null; // no document: assume the whole documented surface
  }
  known = Object.fromEntries(Object.entries(ENDPOINTS).map(([name, op]) => [name, !offered || offered.has(op)]));
  return known;
}
