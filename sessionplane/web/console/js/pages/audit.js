// Audit: the project's closes (and refused closes), filtered and paged, with actor, counts and reconnects.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { ext, get } from '../api.js';
import { features } from '../features.js';
import { listInstances } from '../inventory.js';
import { Page } from '../page.js';
import { mayReadAudit } from '../permissions.js';
import { errorBanner, exportButtons, formatTime, notice, pager } from '../ui.js';

const OUTCOMES = ['', 'succeeded', 'partial', 'failed', 'denied'];
const COLUMNS = ['id', 'time', 'request_id', 'actor', 'action', 'instance_id', 'node_id', 'outcome', 'closed', 'reconnected', 'parameters'].map((key) => ({ key }));

// <input type="datetime-local"> is local time without a zone; the API wants ISO 8601 UTC.
const isoOf = (local) => (local ? new Date(local).toISOString() : undefined);

export class AuditPage extends Page {
  static refreshKey = 'audit';

  constructor(app, params) {
    super(app, params);
    this.filters = { since: '', until: '', outcome: '', actor: '', instance_id: params.query.get('instance_id') || '' };
    this.offset = 0;
    this.limit = 50;
    this.records = null;
    this.total = 0;
    this.instances = [];
  }

  get title() {
    return 'Audit';
  }

  async fetch() {
    if (this.available === undefined) {
      this.available = (await features()).audit;
      this.allowed = this.available && (await mayReadAudit());
      this.instances = (await listInstances({ limit: 100 })).instances;
    }
    if (!this.available || !this.allowed) return;
    const f = this.filters;
    const answer = await get(ext('/audit'), {
      since: isoOf(f.since),
      until: isoOf(f.until),
      outcome: f.outcome,
      actor: f.actor,
      instance_id: f.instance_id,
      offset: this.offset,
      limit: this.limit,
    });
    this.records = answer.records;
    this.total = answer.total_count;
  }

  apply(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    this.filters = Object.fromEntries(Object.keys(this.filters).map((k) => [k, String(form.get(k) || '')]));
    this.offset = 0;
    this.load();
  }

  instanceName(id) {
    return this.instances.find((i) => i.id === id)?.name || id || '';
  }

  view() {
    return html`<h1>Audit</h1>
      ${this.available === false ? notice('This server has no audit endpoint (GET /audit); operators read the trail with sessionplane audit list.', 'warn') : nothing}
      ${this.allowed === false && this.available ? html`<p class="hint readonly">Reading the audit trail needs <code>sessionplane:audit:list</code>.</p>` : nothing}
      ${this.allowed === false ? errorBanner(this.error) : this.listing()}`;
  }

  listing() {
    const f = this.filters;
    return html`<form class="stack filters-form" @submit=${(e) => this.apply(e)}>
        <label>Since <input name="since" type="datetime-local" .value=${f.since}></label>
        <label>Until <input name="until" type="datetime-local" .value=${f.until}></label>
        <label>Outcome <select name="outcome">${OUTCOMES.map((o) => html`<option value=${o} ?selected=${o === f.outcome}>${o || 'any'}</option>`)}</select></label>
        <label>Actor <input name="actor" placeholder="user:alice, rule:…" .value=${f.actor}></label>
        <label>Instance <select name="instance_id"><option value="">any</option>
          ${this.instances.map((i) => html`<option value=${i.id} ?selected=${i.id === f.instance_id}>${i.name}</option>`)}</select></label>
        <button type="submit" class="primary">Apply</button>
      </form>
      <div class="toolbar">${this.refresh.view()} ${exportButtons('audit', COLUMNS, this.records || [])}
        <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span></div>
      ${errorBanner(this.error)}
      ${this.records ? this.table() : nothing}
      ${this.records ? pager({ offset: this.offset, limit: this.limit, total: this.total, onPage: (o) => { this.offset = o; this.load(); }, onLimit: (n) => { this.limit = n; this.offset = 0; this.load(); } }) : nothing}`;
  }

  table() {
    if (!this.records.length) return html`<p class="empty">No record matches.</p>`;
    return html`<table class="audit">
      <caption class="sr-only">Audit records, newest first</caption>
      <thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Instance / node</th><th scope="col">Outcome</th><th scope="col" class="num">Closed</th><th scope="col" class="num">Came back</th><th scope="col">Details</th></tr></thead>
      <tbody>${this.records.map((r) => html`<tr data-record=${r.id}>
        <td data-column="time">${formatTime(r.time)}</td>
        <td data-column="actor">${r.actor}</td>
        <td data-column="action">${String(r.action || '').split(':').pop()}</td>
        <td data-column="instance">${this.instanceName(r.instance_id)}${r.node_id ? html`<div class="id">${r.node_id}</div>` : nothing}</td>
        <td data-column="outcome"><span class="badge ${r.outcome === 'succeeded' ? 'ok' : 'bad'}">${r.outcome}</span></td>
        <td class="num" data-column="closed">${r.closed ?? ''}</td>
        <td class="num" data-column="reconnected">${r.reconnected ?? (r.outcome === 'denied' ? '' : '…')}</td>
        <td><details><summary>Request ${r.request_id}</summary><pre class="json">${JSON.stringify({ parameters: r.parameters, nodes: r.nodes ?? r.results ?? r.node_results }, null, 2)}</pre></details></td>
      </tr>`)}</tbody>
    </table>`;
  }
}
