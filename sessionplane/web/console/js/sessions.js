// Session columns, filters and loading, shared by the instance page and fleet search.
import { ApiError, ext, request } from './api.js';
import { globMatcher } from './ui.js';

export const SESSION_COLUMNS = [
  { key: 'id', label: 'ID', numeric: true, help: "The node's client ID (CLIENT LIST id): what a close by ID names." },
  { key: 'addr', label: 'Address', help: "The client's ip:port as the node sees it." },
  { key: 'name', label: 'Name', help: 'Client name set with CLIENT SETNAME; empty when the client set none.' },
  { key: 'user', label: 'User', help: 'The ACL user the client authenticated as.' },
  { key: 'lib_name', label: 'Library', help: 'Client library (CLIENT SETINFO lib-name), when the client reports it.' },
  { key: 'db', label: 'DB', numeric: true, help: 'The database the client has selected.' },
  { key: 'cmd', label: 'Last command', help: 'The last command the client sent.' },
  { key: 'age', label: 'Age (s)', numeric: true, help: 'Seconds since the client connected.' },
  { key: 'idle', label: 'Idle (s)', numeric: true, help: 'Seconds since the client last sent a command.' },
  { key: 'fd', label: 'FD', numeric: true, help: "The connection's file descriptor on the node (-1: none)." },
  { key: 'sub', label: 'Sub', numeric: true, help: 'Channels the client is subscribed to.' },
  { key: 'psub', label: 'Psub', numeric: true, help: 'Patterns the client is subscribed to.' },
  { key: 'multi', label: 'Multi', numeric: true, help: 'Commands queued in a MULTI transaction (-1: not in one).' },
];

// The columns of the rows at hand: a field no row has (lib_name before Redis 7.2) is left out.
export function columnsFor(rows, { withNode = false } = {}) {
  const columns = rows.length ? SESSION_COLUMNS.filter((c) => rows.some((row) => c.key in row)) : SESSION_COLUMNS;
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
export const NODE_CAP = 10_000; // a browser table beyond this is no help: narrow with fleet search instead

// A node search could not read: an error like any other, with the search's request id.
function failure(failed, requestId) {
  return new ApiError({ status: 200, code: failed.error_code, message: failed.error_msg, requestId });
}

// Every session of one node (up to NODE_CAP), through fleet search: every CLIENT LIST field.
export async function loadNodeSessions({ node }) {
  const rows = [];
  let total = 0;
  do {
    const body = { scope: { node_ids: [node.id] }, sort: 'age', offset: rows.length, limit: SEARCH_PAGE };
    const { data: answer, requestId } = await request('POST', ext('/sessions/search'), { body });
    if (answer.failed_nodes?.length) throw failure(answer.failed_nodes[0], requestId);
    rows.push(...answer.sessions);
    total = answer.total_count;
    if (!answer.sessions.length) break;
  } while (rows.length < total && rows.length < NODE_CAP);
  return { rows, total };
}
