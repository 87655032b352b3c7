// Session columns, filters and loading, shared by the instance page and fleet search.
import { ApiError, ext, get, post, segment, v3 } from './api.js';
import { globMatcher } from './ui.js';

export const SESSION_COLUMNS = [
  { key: 'id', label: 'ID', numeric: true, help: "The node's client ID (CLIENT LIST id): what a close by ID names." },
  { key: 'addr', label: 'Address', help: "The client's ip:port as the node sees it." },
  { key: 'name', label: 'Name', help: 'Client name set with CLIENT SETNAME; empty when the client set none.' },
  { key: 'user', label: 'User', help: 'The ACL user the client authenticated as.', rich: true },
  { key: 'lib_name', label: 'Library', help: 'Client library (CLIENT SETINFO lib-name), when the client reports it.', rich: true },
  { key: 'db', label: 'DB', numeric: true, help: 'The database the client has selected.' },
  { key: 'cmd', label: 'Last command', help: 'The last command the client sent.' },
  { key: 'age', label: 'Age (s)', numeric: true, help: 'Seconds since the client connected.' },
  { key: 'idle', label: 'Idle (s)', numeric: true, help: 'Seconds since the client last sent a command.' },
  { key: 'fd', label: 'FD', numeric: true, help: "The connection's file descriptor on the node (-1: none)." },
  { key: 'sub', label: 'Sub', numeric: true, help: 'Channels the client is subscribed to.' },
  { key: 'psub', label: 'Psub', numeric: true, help: 'Patterns the client is subscribed to.' },
  { key: 'multi', label: 'Multi', numeric: true, help: 'Commands queued in a MULTI transaction (-1: not in one).' },
];

export function columnsFor(rows, { withNode = false } = {}) {
  const rich = rows.some((row) => 'user' in row);
  const columns = SESSION_COLUMNS.filter((c) => !c.rich || rich);
  if (!withNode) return columns;
  return [
    { key: 'instance_id', label: 'Instance', help: 'The instance the node belongs to.' },
    { key: 'node_id', label: 'Node', help: 'The node the session is on.' },
    ...columns,
  ];
}

// The instance page's filters, applied to the node's full listing in the browser.
export function filterRows(rows, filters) {
  const name = filters.name ? globMatcher(filters.name) : null;
  const user = filters.user ? globMatcher(filters.user) : null;
  const idle = filters.idle === '' || filters.idle === undefined ? null : Number(filters.idle);
  const db = filters.db === '' || filters.db === undefined ? null : String(Number(filters.db));
  return rows.filter(
    (row) =>
      (!filters.addr || row.addr.startsWith(filters.addr)) &&
      (!name || name.test(row.name)) &&
      (!user || user.test(row.user ?? '')) &&
      (db === null || row.db === db) &&
      (idle === null || Number(row.idle) >= idle),
  );
}

const SEARCH_PAGE = 1000;
export const NODE_CAP = 10_000; // a browser table beyond this is no help: narrow the listing instead

function failure(failed) {
  return new ApiError({ status: 400, code: failed.error_code, message: `${failed.node_id}: ${failed.error_msg}`, requestId: '' });
}

// Every session of one node: through fleet search when offered (it carries user, lib_name, flags),
// else the GeminiDB instance listing narrowed to the node.
export async function loadNodeSessions({ instance, node, search }) {
  if (!search) {
    const answer = await get(v3(`/instances/${segment(instance.id)}/sessions`), { node_id: node.id });
    return { rows: answer.node_sessions.flatMap((n) => n.sessions), total: answer.node_sessions[0]?.total_count ?? 0 };
  }
  const rows = [];
  let total = 0;
  do {
    const answer = await post(ext('/sessions/search'), { scope: { node_ids: [node.id] }, sort: '-age', offset: rows.length, limit: SEARCH_PAGE });
    if (answer.failed_nodes?.length) throw failure(answer.failed_nodes[0]);
    rows.push(...answer.sessions);
    total = answer.total_count;
    if (!answer.sessions.length) break;
  } while (rows.length < total && rows.length < NODE_CAP);
  return { rows, total };
}
