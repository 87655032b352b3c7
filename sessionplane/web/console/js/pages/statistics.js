// Statistics of a node: total vs active sessions, top source IPs and DBs, as charts and tables.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { get, segment, v3 } from '../api.js';
import { barChart, disposeCharts } from '../charts.js';
import { instanceById, nodesOf } from '../inventory.js';
import { Page } from '../page.js';
import { errorBanner, exportButtons } from '../ui.js';
import { instanceHeading, nodePicker, tabs } from './instance.js';

export class StatisticsPage extends Page {
  static refreshKey = 'statistics';

  constructor(app, params) {
    super(app, params);
    this.instance = null;
    this.nodeId = params.query.get('node');
    this.stats = null;
  }

  get title() {
    return this.instance ? `${this.instance.name}: statistics` : 'Statistics';
  }

  async fetch() {
    if (!this.instance) {
      this.instance = await instanceById(this.params.id);
      if (!nodesOf(this.instance).some((n) => n.id === this.nodeId)) this.nodeId = nodesOf(this.instance)[0]?.id;
    }
    if (!this.nodeId) return;
    this.stats = await get(v3(`/redis/nodes/${segment(this.nodeId)}/session-statistics`));
  }

  pick(nodeId) {
    this.nodeId = nodeId;
    this.stats = null;
    this.load();
  }

  view() {
    if (!this.instance) return html`<h1>Statistics</h1>${errorBanner(this.error)}`;
    const s = this.stats;
    const rows = s
      ? [
          { kind: 'total', key: 'all', count: s.total_connection_count },
          { kind: 'active', key: 'all', count: s.active_connection_count },
          ...s.top_source_ips.map((r) => ({ kind: 'source_ip', key: r.client_ip, count: r.connection_count })),
          ...s.top_dbs.map((r) => ({ kind: 'db', key: r.db, count: r.connection_count })),
        ]
      : [];
    const columns = ['kind', 'key', 'count'].map((key) => ({ key }));
    return html`${instanceHeading(this.instance, 'statistics')}
      ${tabs(this.instance, 'statistics')}
      <div class="toolbar">
        ${nodePicker(this.instance, this.nodeId, (id) => this.pick(id))}
        ${this.refresh.view()} ${exportButtons(`statistics-${this.nodeId}`, columns, rows)}
        <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span>
      </div>
      ${errorBanner(this.error)}
      ${s ? this.figures(s) : nothing}`;
  }

  figures(s) {
    const share = s.total_connection_count ? Math.round((100 * s.active_connection_count) / s.total_connection_count) : 0;
    return html`<section class="cards" aria-label="Totals">
        <div class="card"><span class="figure" data-figure="total">${s.total_connection_count}</span> sessions</div>
        <div class="card"><span class="figure" data-figure="active">${s.active_connection_count}</span> active (${share}%)</div>
      </section>
      <p class="hint">Active: idle less than the active threshold (1 s by default), blocked, or inside MULTI.</p>
      <div class="panels">
        ${this.panel('chart-totals', 'Total vs active', ['total', 'active'], [s.total_connection_count, s.active_connection_count], 'Kind')}
        ${this.panel('chart-ips', 'Top source IPs', s.top_source_ips.map((r) => r.client_ip), s.top_source_ips.map((r) => r.connection_count), 'Source IP')}
        ${this.panel('chart-dbs', 'Top DBs', s.top_dbs.map((r) => `db ${r.db}`), s.top_dbs.map((r) => r.connection_count), 'DB')}
      </div>`;
  }

  panel(id, title, labels, values, keyLabel) {
    const description = labels.map((l, i) => `${l}: ${values[i]}`).join(', ') || 'no sessions';
    return html`<section class="panel" aria-labelledby="${id}-title">
      <h2 id="${id}-title">${title}</h2>
      <div class="chart" id=${id} role="img" aria-label="${title}: ${description}"></div>
      <table class="figures">
        <caption class="sr-only">${title}</caption>
        <thead><tr><th scope="col">${keyLabel}</th><th scope="col" class="num">Sessions</th></tr></thead>
        <tbody>${labels.map((l, i) => html`<tr><td>${l}</td><td class="num">${values[i]}</td></tr>`)}</tbody>
      </table>
    </section>`;
  }

  rendered(root) {
    const s = this.stats;
    if (!s) return;
    barChart(root.querySelector('#chart-totals'), { labels: ['total', 'active'], values: [s.total_connection_count, s.active_connection_count], label: 'sessions' });
    barChart(root.querySelector('#chart-ips'), { labels: s.top_source_ips.map((r) => r.client_ip), values: s.top_source_ips.map((r) => r.connection_count), label: 'sessions' });
    barChart(root.querySelector('#chart-dbs'), { labels: s.top_dbs.map((r) => `db ${r.db}`), values: s.top_dbs.map((r) => r.connection_count), label: 'sessions' });
  }

  dispose() {
    super.dispose();
    disposeCharts(this.app.root);
  }
}
