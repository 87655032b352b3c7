// Each close the console offers, as a plan: a dry-run preview (count and rows) and the close itself.
// Selector closes go through sessionplane's fleet close with the confirmed count as expect_at_most,
// so a close never takes more sessions than the operator saw (409 SP.0001 otherwise, nothing
// closed). Sessions ticked one by one are closed by ID with the GeminiDB node close (dry_run first).
import { del, ext, post, request, segment, v3 } from './api.js';

const PREVIEW_ROWS = 10;
const nodePath = (nodeId) => v3(`/redis/nodes/${segment(nodeId)}/sessions`);

async function fleetPreview(selector) {
  const answer = await post(ext('/sessions/close'), { ...selector, dry_run: true, sort: '-idle', limit: PREVIEW_ROWS });
  return { count: answer.would_close, rows: answer.sessions || [], failed: answer.failed_nodes || [] };
}

async function fleetClose(selector, count) {
  const { data, requestId } = await request('POST', ext('/sessions/close'), {
    body: { ...selector, expect_at_most: count },
  });
  return { closed: data.closed, nodes: [...(data.nodes || []), ...(data.failed_nodes || [])], auditId: data.audit_id, requestId };
}

function selectorPlan({ title, scope, instanceId, selector }) {
  return { title, scope, instanceId, preview: () => fleetPreview(selector), close: (count) => fleetClose(selector, count) };
}

export function closeSelected({ instance, node, ids }) {
  return closeSelectedAcross({ sessions: ids.map((id) => ({ id, node_id: node.id })), instanceId: instance.id, scope: `node ${node.name} of ${instance.name}` });
}

export function closeNode({ instance, node }) {
  return selectorPlan({
    title: 'Close all sessions of this node',
    scope: `node ${node.name} of ${instance.name}`,
    instanceId: instance.id,
    selector: { scope: { node_ids: [node.id] } },
  });
}

export function closeIdle({ instance, node, seconds }) {
  return selectorPlan({
    title: `Close sessions idle for ${seconds} s or more`,
    scope: `node ${node.name} of ${instance.name}`,
    instanceId: instance.id,
    selector: { scope: { node_ids: [node.id] }, match: { min_idle_seconds: seconds } },
  });
}

export function closeInstance({ instance }) {
  return selectorPlan({
    title: 'Close all sessions of this instance',
    scope: `every node of ${instance.name}`,
    instanceId: instance.id,
    selector: { scope: { instance_ids: [instance.id] } },
  });
}

export function closeMatching({ selector, description }) {
  return selectorPlan({ title: 'Close the matching sessions', scope: description, instanceId: null, selector });
}

// Ticked sessions, on one node or several: one close by ID per node, each previewed by a dry run.
// By ID a close can only take the sessions ticked, so the preview's count is what is closed.
export function closeSelectedAcross({ sessions, instanceId = null, scope = null }) {
  const byNode = new Map();
  for (const s of sessions) byNode.set(s.node_id, [...(byNode.get(s.node_id) || []), s.id]);
  const body = (ids) => ({ is_all: false, session_ids: ids });
  return {
    title: `Close ${sessions.length} selected session${sessions.length === 1 ? '' : 's'}`,
    scope: scope || `${byNode.size} node${byNode.size === 1 ? '' : 's'}`,
    instanceId,
    preview: async () => {
      const answers = await Promise.all(
        [...byNode].map(async ([nodeId, ids]) => {
          const answer = await del(nodePath(nodeId), { body: body(ids), query: { dry_run: 'true' } });
          return answer.sessions.map((s) => ({ ...s, node_id: nodeId }));
        }),
      );
      const rows = answers.flat();
      return { count: rows.length, rows };
    },
    close: async (count) => {
      const results = await Promise.allSettled([...byNode].map(([nodeId, ids]) => request('DELETE', nodePath(nodeId), { body: body(ids) })));
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
