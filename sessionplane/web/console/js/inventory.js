// Instances and nodes as GET /v3/{project_id}/instances reports them, and per-node session totals.
import { ApiError, get, segment, v3 } from './api.js';

export const nodesOf = (instance) => (instance.groups || []).flatMap((group) => group.nodes);

export async function listInstances({ offset = 0, limit = 100 } = {}) {
  return get(v3('/instances'), { offset, limit });
}

export async function instanceById(id) {
  const answer = await get(v3('/instances'), { id });
  const instance = answer.instances.find((i) => i.id === id);
  if (!instance) throw new ApiError({ status: 404, code: 'DBS.200002', message: `Instance ${id} does not exist.`, requestId: '' });
  return instance;
}

// One cheap listing per node (limit 1) for its total; a node that fails reports its error instead.
export async function nodeTotals(instance) {
  const nodes = nodesOf(instance);
  const answers = await Promise.allSettled(
    nodes.map((node) => get(v3(`/redis/nodes/${segment(node.id)}/sessions`), { limit: 1 })),
  );
  return Object.fromEntries(
    nodes.map((node, i) => {
      const a = answers[i];
      return [node.id, a.status === 'fulfilled' ? { total: a.value.total_count } : { error: a.reason }];
    }),
  );
}

export function instanceTabs(instance, active) {
  const id = segment(instance.id);
  return [
    ['sessions', `#/instances/${id}`, 'Sessions'],
    ['statistics', `#/instances/${id}/statistics`, 'Statistics'],
    ['history', `#/instances/${id}/history`, 'History'],
    ['rules', `#/instances/${id}/rules`, 'Rules'],
  ].map(([key, href, label]) => ({ key, href, label, active: key === active }));
}
