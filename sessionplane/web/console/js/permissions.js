// What the signed-in user may do, as the API answers it (GET /sessionplane/v1/{project}/permissions,
// from the user's IAM policies): list, close, rules (create, change, delete) and audit, on the whole
// project (allowed on at least one instance) or on one instance. Asked once per scope per sign-in.
// The buttons are a convenience: the API still refuses whatever the caller's policies forbid.
import { ApiError, ext, get } from './api.js';
import { auth } from './auth.js';
import { features } from './features.js';

const UNKNOWN = null; // no answer (an older server, a server fault): show the actions, let the API decide

async function ask(instanceId) {
  if (!(await features()).permissions) return UNKNOWN;
  try {
    const answer = await get(ext('/permissions'), { instance_id: instanceId || undefined });
    return Object.fromEntries(Object.entries(answer.permissions).map(([name, p]) => [name, p.allowed]));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    return UNKNOWN;
  }
}

// {list, close, rules, audit} as booleans, or null when unknown. instanceId '' asks about the project.
export async function permissionsOf(instanceId = '') {
  const cache = auth.permissionCache();
  if (instanceId in cache) return cache[instanceId];
  const answer = await ask(instanceId);
  if (answer !== UNKNOWN) auth.rememberPermission(instanceId, answer);
  return answer;
}

async function may(capability, instanceId) {
  const answer = await permissionsOf(instanceId);
  return answer === UNKNOWN ? true : Boolean(answer[capability]);
}

export const mayClose = (instance) => may('close', instance.id);
export const mayChangeRules = (instance) => may('rules', instance.id);
export const mayCloseSomewhere = () => may('close', '');
export const mayReadAudit = () => may('audit', '');
