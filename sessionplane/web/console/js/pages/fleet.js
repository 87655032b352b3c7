// Fleet search: the selector over the whole project (or chosen instances), summaries by group, and
// the same previewed closes as the instance page.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { ext, post } from '../api.js';
import { barChart, disposeCharts } from '../charts.js';
import { CloseFlow } from '../closeflow.js';
import { closeMatching, closeSelectedAcross } from '../closes.js';
import { listInstances } from '../inventory.js';
import { Page } from '../page.js';
import { mayCloseSomewhere } from '../permissions.js';
import { describeSelector, emptySelectorFields, selectorFieldset, selectorOf } from '../selector.js';
import { columnsFor } from '../sessions.js';
import { columnHelp, errorBanner, exportButtons, notice, pager } from '../ui.js';

const SORTS = [
  ['age', 'Newest first'],
  ['-age', 'Oldest first'],
  ['-idle', 'Most idle first'],
  ['idle', 'Least idle first'],
  ['addr', 'Address'],
  ['name', 'Name'],
  ['db', 'DB'],
];
const GROUPS = ['ip', 'name', 'user', 'lib_name', 'db', 'node', 'cmd'];

export class FleetPage extends Page {
  static refreshKey = 'fleet';

  constructor(app, params) {
    super(app, params);
    this.instances = null;
    this.scope = new Set();
    this.fields = emptySelectorFields();
    this.applied = { match: {}, exclude: {} };
    this.sort = 'age';
    this.offset = 0;
    this.limit = 100;
    this.result = null;
    this.groupBy = 'name';
    this.summary = null;
    this.selected = new Map(); // key node_id/id -> session
    this.flow = new CloseFlow(this);
  }

  get title() {
    return 'Fleet search';
  }

  selector() {
    const scope = this.scope.size ? { instance_ids: [...this.scope] } : {};
    return { scope, ...this.applied };
  }

  async fetch() {
    if (!this.instances) {
      this.instances = (await listInstances({ limit: 100 })).instances;
      this.mayClose = await mayCloseSomewhere();
    }
    const selector = this.selector();
    const [result, summary] = await Promise.all([
      post(ext('/sessions/search'), { ...selector, sort: this.sort, offset: this.offset, limit: this.limit }),
      post(ext('/sessions/summary'), { ...selector, group_by: this.groupBy, top: 10 }),
    ]);
    this.result = result;
    this.summary = summary;
    const present = new Set(result.sessions.map((s) => `${s.node_id}/${s.id}`));
    for (const key of this.selected.keys()) if (!present.has(key)) this.selected.delete(key);
  }

  search(event) {
    event.preventDefault();
    this.applied = selectorOf(this.fields);
    this.offset = 0;
    this.load();
  }

  setField(group, key, value) {
    this.fields = { ...this.fields, [group]: { ...this.fields[group], [key]: value } };
  }

  view() {
    const rows = this.result?.sessions || [];
    const columns = columnsFor(rows, { withNode: true });
    return html`<h1>Fleet search</h1>
      <p class="hint">One selector over every instance of the project you may see (or the ones you tick).</p>
      <form class="fleet" @submit=${(e) => this.search(e)}>
        ${this.scopeFieldset()}
        ${selectorFieldset(this.fields, (g, k, v) => this.setField(g, k, v), { prefix: 'fleet' })}
        <div class="toolbar">
          <label>Sort
            <select name="sort" @change=${(e) => { this.sort = e.target.value; this.offset = 0; this.load(); }}>
              ${SORTS.map(([v, t]) => html`<option value=${v} ?selected=${v === this.sort}>${t}</option>`)}
            </select></label>
          <button type="submit" class="primary">Search</button>
          ${this.refresh.view()} ${exportButtons('fleet-sessions', columns, rows)}
          <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span>
        </div>
      </form>
      ${errorBanner(this.error)}
      ${notice(this.flow.summary(), 'ok')}
      ${this.failedNodes()}
      ${this.result ? this.results(columns, rows) : nothing}
      ${this.summary ? this.summaryView() : nothing}
      ${columnHelp(columns)}
      ${this.flow.view()}`;
  }

  scopeFieldset() {
    const toggle = (id, on) => (on ? this.scope.add(id) : this.scope.delete(id));
    return html`<fieldset class="filters"><legend>Instances (none ticked: all)</legend>
      ${(this.instances || []).map((i) => html`<label class="check"><span><input type="checkbox" name="scope" value=${i.id}
        .checked=${this.scope.has(i.id)} @change=${(e) => toggle(i.id, e.target.checked)}> ${i.name}</span></label>`)}
    </fieldset>`;
  }

  failedNodes() {
    const failed = this.result?.failed_nodes || [];
    if (!failed.length) return nothing;
    return html`<div class="error" role="alert"><strong>Some nodes could not be read:</strong>
      <ul>${failed.map((f) => html`<li>${f.node_id}: ${f.error_msg} (${f.error_code})</li>`)}</ul></div>`;
  }

  results(columns, rows) {
    const description = describeSelector(this.applied);
    return html`<section aria-labelledby="fleet-results">
      <h2 id="fleet-results">${this.result.total_count} sessions match <span class="subtitle">${description}</span></h2>
      ${this.mayClose ? this.actions(description) : nothing}
      <table class="sessions fleet">
        <caption class="sr-only">Matching sessions</caption>
        <thead><tr>
          ${this.mayClose ? html`<th scope="col"><span class="sr-only">Select</span></th>` : nothing}
          ${columns.map((c) => html`<th scope="col" class=${c.numeric ? 'num' : ''} title=${c.help || ''}>${c.label}</th>`)}
        </tr></thead>
        <tbody>${rows.map((row) => this.row(columns, row))}</tbody>
      </table>
      ${pager({ offset: this.offset, limit: this.limit, total: this.result.total_count, onPage: (o) => { this.offset = o; this.load(); } })}
    </section>`;
  }

  row(columns, row) {
    const key = `${row.node_id}/${row.id}`;
    const pick = (on) => {
      if (on) this.selected.set(key, row);
      else this.selected.delete(key);
      this.update();
    };
    return html`<tr data-id=${row.id}>
      ${this.mayClose ? html`<td><input type="checkbox" aria-label="Select session ${row.id} on ${row.node_id}" .checked=${this.selected.has(key)} @change=${(e) => pick(e.target.checked)}></td>` : nothing}
      ${columns.map((c) => html`<td class=${c.numeric ? 'num' : ''} data-column=${c.key}>${row[c.key]}</td>`)}
    </tr>`;
  }

  actions(description) {
    const picked = [...this.selected.values()];
    return html`<div class="actions" role="group" aria-label="Close sessions">
      <button type="button" class="danger" ?disabled=${!picked.length} @click=${() => this.flow.open(closeSelectedAcross({ sessions: picked }))}>Close selected (${picked.length})</button>
      <button type="button" class="danger" ?disabled=${!this.result.total_count} @click=${() => this.flow.open(closeMatching({ selector: this.selector(), description }))}>Close all matching</button>
    </div>`;
  }

  summaryView() {
    const s = this.summary;
    const labels = s.groups.map((g) => g.key || '(unnamed)');
    return html`<section class="panel" aria-labelledby="summary-title">
      <h2 id="summary-title">Summary by ${this.groupBy}</h2>
      <label>Group by
        <select name="group_by" @change=${(e) => { this.groupBy = e.target.value; this.load(); }}>
          ${GROUPS.map((g) => html`<option value=${g} ?selected=${g === this.groupBy}>${g}</option>`)}
        </select></label>
      <div class="chart" id="chart-summary" role="img" aria-label="Sessions by ${this.groupBy}: ${labels.map((l, i) => `${l} ${s.groups[i].count}`).join(', ')}"></div>
      <table class="summary">
        <caption class="sr-only">Sessions by ${this.groupBy}</caption>
        <thead><tr><th scope="col">${this.groupBy}</th><th scope="col" class="num">Sessions</th><th scope="col" class="num">Active</th><th scope="col" class="num">Idle over threshold</th></tr></thead>
        <tbody>${s.groups.map((g, i) => html`<tr><td data-column="key">${labels[i]}</td><td class="num" data-column="count">${g.count}</td><td class="num" data-column="active">${g.active}</td><td class="num" data-column="idle_over">${g.idle_over}</td></tr>`)}
          ${s.other ? html`<tr><td>(other)</td><td class="num">${s.other}</td><td></td><td></td></tr>` : nothing}</tbody>
      </table>
    </section>`;
  }

  rendered(root) {
    this.flow.sync(root);
    const s = this.summary;
    if (s?.groups.length) barChart(root.querySelector('#chart-summary'), { labels: s.groups.map((g) => g.key || '(unnamed)'), values: s.groups.map((g) => g.count), label: 'sessions' });
  }

  dispose() {
    super.dispose();
    this.flow.dispose();
    disposeCharts(this.app.root);
  }
}

