// Each close the console offers, as a plan: a dry-run preview (count and rows) and the close itself.
// With sessionplane's fleet close the confirmed count travels as expect_at_most, so a close never
// takes more sessions than the operator saw (409 SP.0001 otherwise); without it, the GeminiDB
// node close (dry_run extension) and instance close are used.
import { del, ext, get, post, request, segment, v3 } from './api.js';

const nodePath = (node) => v3(`/redis/nodes/${segment(node.id)}/sessions`);

async function fleetPreview(selector) {
  const answer = await post(ext('/sessions/close'), { ...selector, dry_run: true });
  return { count: answer.would_close, rows: answer.sessions || [] };
}

async function fleetClose(selector, count) {
  const { data, requestId } = await request('POST', ext('/sessions/close'), {
    body: { ...selector, expect_at_most: count },
  });
  return { closed: data.closed, nodes: data.nodes || [], auditId: data.audit_id, requestId };
}

async function nodePreview(node, body) {
  const answer = await del(nodePath(node), { body, query: { dry_run: 'true' } });
  const rows = answer.sessions.map((s) => ({ ...s, node_id: node.id }));
  return { count: rows.length, rows };
}

async function nodeClose(node, body) {
  const { requestId } = await request('DELETE', nodePath(node), { body });
  return { closed: null, nodes: [], auditId: null, requestId };
}

export function closeSelected({ instance, node, ids }) {
  const body = { is_all: false, session_ids: ids };
  return {
    title: `Close ${ids.length} selected session${ids.length === 1 ? '' : 's'}`,
    scope: `node ${node.name} of ${instance.name}`,
    instanceId: instance.id,
    preview: () => nodePreview(node, body),
    // By ID, exactly the sessions previewed that are still there: the preview's count is the result.
    close: async (count) => ({ ...(await nodeClose(node, body)), closed: count }),
  };
}

export function closeNode({ instance, node, fleet }) {
  const selector = { scope: { node_ids: [node.id] } };
  return {
    title: 'Close all sessions of this node',
    scope: `node ${node.name} of ${instance.name}`,
    instanceId: instance.id,
    preview: () => (fleet ? fleetPreview(selector) : nodePreview(node, { is_all: true })),
    close: (count) => (fleet ? fleetClose(selector, count) : nodeClose(node, { is_all: true })),
  };
}

export function closeIdle({ instance, node, seconds, fleet }) {
  const selector = { scope: { node_ids: [node.id] }, match: { min_idle_seconds: seconds } };
  const body = { is_all: true, min_idle_seconds: seconds };
  return {
    title: `Close sessions idle for ${seconds} s or more`,
    scope: `node ${node.name} of ${instance.name}`,
    instanceId: instance.id,
    preview: () => (fleet ? fleetPreview(selector) : nodePreview(node, body)),
    close: (count) => (fleet ? fleetClose(selector, count) : nodeClose(node, body)),
  };
}

export function closeInstance({ instance, fleet }) {
  const selector = { scope: { instance_ids: [instance.id] } };
  const path = v3(`/instances/${segment(instance.id)}/sessions`);
  return {
    title: 'Close all sessions of this instance',
    scope: `every node of ${instance.name}`,
    instanceId: instance.id,
    preview: async () => {
      if (fleet) return fleetPreview(selector);
      const listing = await get(path);
      const rows = listing.node_sessions.flatMap((n) => n.sessions.map((s) => ({ ...s, node_id: n.node_id })));
      return { count: listing.node_sessions.reduce((sum, n) => sum + n.total_count, 0), rows };
    },
    close: async (count) => {
      if (fleet) return fleetClose(selector, count);
      const { requestId } = await request('DELETE', path);
      return { closed: null, nodes: [], auditId: null, requestId };
    },
  };
}

export function closeMatching({ selector, description }) {
  return {
    title: 'Close the matching sessions',
    scope: description,
    instanceId: null,
    preview: () => fleetPreview(selector),
    close: (count) => fleetClose(selector, count),
  };
}

// Selected sessions of several nodes (fleet search): one close by ID per node.
export function closeSelectedAcross({ sessions }) {
  const byNode = new Map();
  for (const s of sessions) byNode.set(s.node_id, [...(byNode.get(s.node_id) || []), s.id]);
  const path = (nodeId) => v3(`/redis/nodes/${segment(nodeId)}/sessions`);
  return {
    title: `Close ${sessions.length} selected session${sessions.length === 1 ? '' : 's'}`,
    scope: `${byNode.size} node${byNode.size === 1 ? '' : 's'}`,
    instanceId: null,
    preview: async () => {
      const answers = await Promise.all(
        [...byNode].map(async ([nodeId, ids]) => {
          const answer = await del(path(nodeId), { body: { is_all: false, session_ids: ids }, query: { dry_run: 'true' } });
          return answer.sessions.map((s) => ({ ...s, node_id: nodeId }));
        }),
      );
      const rows = answers.flat();
      return { count: rows.length, rows };
    },
    close: async (count) => {
      const results = await Promise.allSettled(
        [...byNode].map(([nodeId, ids]) => request('DELETE', path(nodeId), { body: { is_all: false, session_ids: ids } })),
      );
      const nodes = [...byNode.keys()].map((nodeId, i) =>
        results[i].status === 'fulfilled'
          ? { node_id: nodeId, error_code: null }
          : { node_id: nodeId, error_code: results[i].reason.code, error_msg: results[i].reason.message },
      );
      const requestIds = results.filter((r) => r.status === 'fulfilled').map((r) => r.value.requestId);
      return { closed: nodes.some((n) => n.error_code) ? null : count, nodes, auditId: null, requestId: requestIds.join(', ') };
    },
  };
}
