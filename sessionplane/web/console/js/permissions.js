// May the signed-in user close sessions of an instance? The API has no "what may I do" call, so the
// console asks the close itself, as a dry run naming session 0 (no client has ID 0): 403 DBS.280032
// means no, anything else means the policy allowed it. Learned once per instance per sign-in.
// The buttons are a convenience: the API still refuses whatever the caller's policies forbid.
import { ApiError, request, segment, v3 } from './api.js';
import { auth } from './auth.js';

async function probe(instance) {
  const node = instance.groups?.flatMap((group) => group.nodes)[0];
  if (!node) return false;
  try {
    await request('DELETE', v3(`/redis/nodes/${segment(node.id)}/sessions`), {
      query: { dry_run: 'true' },
      body: { is_all: false, session_ids: ['0'] },
    });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'DBS.280032') return false;
    if (error instanceof ApiError && error.status === 401) throw error;
    return null; // unknown (node down, server fault): show the buttons, let the API decide
  }
}

export async function mayClose(instance) {
  if (auth.current?.isAdmin) return true;
  const cache = auth.permissionCache();
  if (instance.id in cache) return cache[instance.id];
  const allowed = await probe(instance);
  if (allowed === null) return true;
  auth.rememberPermission(instance.id, allowed);
  return allowed;
}

export async function mayCloseAny(instances) {
  for (const instance of instances) {
    if (await mayClose(instance)) return true;
  }
  return false;
}
