// Instance: node picker, the node's sessions (sort on every column, filters, paging, column help),
// selection, and the four closes, each previewed (dry run) and confirmed.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { CloseFlow } from '../closeflow.js';
import { closeIdle, closeInstance, closeNode, closeSelected } from '../closes.js';
import { instanceById, instanceTabs, nodesOf } from '../inventory.js';
import { Page } from '../page.js';
import { mayClose } from '../permissions.js';
import { columnsFor, filterRows, loadNodeSessions, NODE_CAP } from '../sessions.js';
import { columnHelp, compareBy, errorBanner, exportButtons, notice, pager, sortHeader } from '../ui.js';

export function tabs(instance, active) {
  return html`<nav class="tabs" aria-label="Instance pages">
    ${instanceTabs(instance, active).map((t) => html`<a href=${t.href} aria-current=${t.active ? 'page' : 'false'}>${t.label}</a>`)}
  </nav>`;
}

export function nodePicker(instance, nodeId, onPick) {
  return html`<label class="picker">Node
    <select name="node" @change=${(e) => onPick(e.target.value)}>
      ${nodesOf(instance).map((n) => html`<option value=${n.id} ?selected=${n.id === nodeId}>${n.name} (${n.private_ip}:${n.port}, ${n.status})</option>`)}
    </select></label>`;
}

export function instanceHeading(instance, subtitle) {
  return html`<h1>${instance.name} <span class="subtitle">${subtitle}</span></h1>
    <p class="meta">${instance.id} · ${instance.mode} · <span class="badge ${instance.status === 'normal' ? 'ok' : 'bad'}">${instance.status}</span></p>`;
}

export class InstancePage extends Page {
  static refreshKey = 'instance';

  constructor(app, params) {
    super(app, params);
    this.instance = null;
    this.nodeId = params.query.get('node');
    this.rows = [];
    this.total = 0;
    this.filters = { addr: '', name: '', user: '', db: '', idle: '' };
    this.sort = { key: 'id', direction: 'desc' };
    this.offset = 0;
    this.limit = 50;
    this.selected = new Set();
    this.idleSeconds = 600;
    this.flow = new CloseFlow(this);
  }

  get title() {
    return this.instance ? `${this.instance.name}: sessions` : 'Sessions';
  }

  get node() {
    return nodesOf(this.instance).find((n) => n.id === this.nodeId);
  }

  async fetch() {
    if (!this.instance) {
      this.instance = await instanceById(this.params.id);
      this.mayClose = await mayClose(this.instance);
      if (!this.node) this.nodeId = nodesOf(this.instance)[0]?.id;
    }
    if (!this.node) return;
    const { rows, total } = await loadNodeSessions({ node: this.node });
    this.rows = rows;
    this.total = total;
    const present = new Set(rows.map((r) => r.id));
    this.selected = new Set([...this.selected].filter((id) => present.has(id)));
  }

  pick(nodeId) {
    this.nodeId = nodeId;
    this.rows = [];
    this.selected.clear();
    this.offset = 0;
    this.load();
  }

  setFilter(name, value) {
    this.filters = { ...this.filters, [name]: value };
    this.offset = 0;
    this.update();
  }

  view() {
    if (!this.instance) return html`<h1>Sessions</h1>${errorBanner(this.error)}${this.loading ? html`<p role="status">Loading…</p>` : nothing}`;
    const columns = columnsFor(this.rows);
    const sortColumn = columns.find((c) => c.key === this.sort.key) || columns[0];
    const filtered = filterRows(this.rows, this.filters).sort(compareBy(sortColumn, this.sort.direction));
    const shown = filtered.slice(this.offset, this.offset + this.limit);
    return html`${instanceHeading(this.instance, 'sessions')}
      ${tabs(this.instance, 'sessions')}
      <div class="toolbar">
        ${nodePicker(this.instance, this.nodeId, (id) => this.pick(id))}
        ${this.refresh.view()} ${exportButtons(`sessions-${this.nodeId}`, columns, shown)}
        <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span>
      </div>
      ${errorBanner(this.error)}
      ${notice(this.flow.summary(), 'ok')}
      ${this.filterForm()}
      ${this.mayClose ? this.actions() : html`<p class="hint readonly">You may list sessions here; closing them needs <code>deleteSession</code>.</p>`}
      ${this.total > this.rows.length ? notice(`The node has ${this.total} sessions; the first ${NODE_CAP} are shown. Narrow with fleet search.`, 'warn') : nothing}
      ${this.table(columns, shown)}
      ${pager({ offset: this.offset, limit: this.limit, total: filtered.length, onPage: (o) => { this.offset = o; this.update(); }, onLimit: (n) => { this.limit = n; this.offset = 0; this.update(); }, sizes: [25, 50, 100, 200] })}
      ${columnHelp(columns)}
      ${this.flow.view()}`;
  }

  filterForm() {
    const field = (name, label, attrs = {}) => html`<label>${label}
      <input name=${name} type=${attrs.type || 'text'} min=${attrs.min ?? nothing} placeholder=${attrs.placeholder || ''}
        ?disabled=${attrs.disabled} .value=${this.filters[name]} @input=${(e) => this.setFilter(name, e.target.value)}></label>`;
    return html`<fieldset class="filters"><legend>Filters</legend>
      ${field('addr', 'Address prefix', { placeholder: '10.0.0.' })}
      ${field('name', 'Name', { placeholder: 'batch-*' })}
      ${field('user', 'User', { placeholder: 'app' })}
      ${field('db', 'DB', { type: 'number', min: 0 })}
      ${field('idle', 'Idle over (s)', { type: 'number', min: 0 })}
    </fieldset>`;
  }

  actions() {
    const instance = this.instance;
    const node = this.node;
    const ids = [...this.selected];
    const open = (plan) => this.flow.open(plan);
    return html`<div class="actions" role="group" aria-label="Close sessions">
      <button type="button" class="danger" ?disabled=${!ids.length} @click=${() => open(closeSelected({ instance, node, ids }))}>Close selected (${ids.length})</button>
      <button type="button" class="danger" ?disabled=${!node} @click=${() => open(closeNode({ instance, node }))}>Close all of this node</button>
      <button type="button" class="danger" @click=${() => open(closeInstance({ instance }))}>Close all of this instance</button>
      <span class="idle-close">
        <label>Close when idle over (s) <input name="close-idle" type="number" min="0" .value=${String(this.idleSeconds)} @input=${(e) => { this.idleSeconds = Number(e.target.value); }}></label>
        <button type="button" class="danger" ?disabled=${!node} @click=${() => open(closeIdle({ instance, node, seconds: Math.max(0, Math.floor(this.idleSeconds) || 0) }))}>Close idle</button>
      </span>
    </div>`;
  }

  toggle(id, on) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    this.update();
  }

  table(columns, shown) {
    const allOn = shown.length > 0 && shown.every((r) => this.selected.has(r.id));
    const onSort = (sort) => { this.sort = sort; this.update(); };
    return html`<table class="sessions">
      <caption class="sr-only">Sessions of ${this.node?.name || 'the node'}</caption>
      <thead><tr>
        ${this.mayClose ? html`<th scope="col"><input type="checkbox" aria-label="Select all shown" .checked=${allOn}
          @change=${(e) => { for (const r of shown) (e.target.checked ? this.selected.add(r.id) : this.selected.delete(r.id)); this.update(); }}></th>` : nothing}
        ${columns.map((c) => sortHeader(c, this.sort, onSort))}
      </tr></thead>
      <tbody>${shown.map((row) => html`<tr data-id=${row.id}>
        ${this.mayClose ? html`<td><input type="checkbox" aria-label="Select session ${row.id}" .checked=${this.selected.has(row.id)} @change=${(e) => this.toggle(row.id, e.target.checked)}></td>` : nothing}
        ${columns.map((c) => html`<td class=${c.numeric ? 'num' : ''} data-column=${c.key}>${row[c.key]}</td>`)}
      </tr>`)}</tbody>
    </table>
    ${shown.length ? nothing : html`<p class="empty">${this.loading ? 'Loading…' : 'No session matches.'}</p>`}`;
  }

  rendered(root) {
    this.flow.sync(root);
  }

  dispose() {
    super.dispose();
    this.flow.dispose();
  }
}
