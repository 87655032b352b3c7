// History of an instance: sessions over time grouped by name / user / lib / IP / node, and the
// groups ranked by growth over a window (leak suspects).
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { ext, get, segment } from '../api.js';
import { disposeCharts, lineChart } from '../charts.js';
import { features } from '../features.js';
import { instanceById } from '../inventory.js';
import { Page } from '../page.js';
import { errorBanner, exportButtons, formatTime, notice } from '../ui.js';
import { instanceHeading, tabs } from './instance.js';

const GROUPS = [
  ['total', 'Total / active / idle'],
  ['name', 'Client name'],
  ['user', 'User'],
  ['lib_name', 'Library'],
  ['ip', 'Source IP'],
  ['node', 'Node'],
];
const SINCE = ['-15m', '-1h', '-6h', '-24h', '-7d', '-30d'];
const WINDOWS = ['2m', '15m', '1h', '6h', '24h', '7d'];

const select = (name, label, options, value, onChange) => html`<label>${label}
  <select name=${name} @change=${(e) => onChange(e.target.value)}>
    ${options.map(([v, text]) => html`<option value=${v} ?selected=${v === value}>${text}</option>`)}
  </select></label>`;

// Series -> one time axis (the union of bucket times) and values aligned on it; null stays a gap.
export function aligned(series) {
  const times = [...new Set(series.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  return {
    times,
    series: series.map((s) => {
      const values = times.map(() => null);
      for (const [t, v] of s.points) values[index.get(t)] = v;
      return { label: s.key, values };
    }),
  };
}

export class HistoryPage extends Page {
  static refreshKey = 'history';

  constructor(app, params) {
    super(app, params);
    this.instance = null;
    this.groupBy = params.query.get('group_by') || 'name';
    this.since = '-1h';
    this.growthBy = 'name';
    this.window = '1h';
    this.history = null;
    this.growth = null;
  }

  get title() {
    return this.instance ? `${this.instance.name}: history` : 'History';
  }

  async fetch() {
    if (!this.instance) {
      this.instance = await instanceById(this.params.id);
      this.available = (await features()).history;
    }
    if (!this.available) return;
    const base = `/instances/${segment(this.instance.id)}`;
    [this.history, this.growth] = await Promise.all([
      get(ext(`${base}/session-history`), { group_by: this.groupBy, since: this.since }),
      get(ext(`${base}/session-growth`), { group_by: this.growthBy, window: this.window }),
    ]);
  }

  set(field, value) {
    this[field] = value;
    this.load();
  }

  view() {
    if (!this.instance) return html`<h1>History</h1>${errorBanner(this.error)}`;
    return html`${instanceHeading(this.instance, 'history')}
      ${tabs(this.instance, 'history')}
      ${errorBanner(this.error)}
      ${this.available === false ? notice('This server does not record session history (no session-history endpoint).', 'warn') : nothing}
      <section aria-labelledby="history-title">
        <h2 id="history-title">Sessions over time</h2>
        <div class="toolbar">
          ${select('group_by', 'Group by', GROUPS, this.groupBy, (v) => this.set('groupBy', v))}
          ${select('since', 'Since', SINCE.map((s) => [s, s.replace('-', 'last ')]), this.since, (v) => this.set('since', v))}
          ${this.refresh.view()} ${this.historyExport()}
          <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span>
        </div>
        ${this.history ? this.historyView() : nothing}
      </section>
      <section aria-labelledby="growth-title">
        <h2 id="growth-title">Leak suspects: growth over the window</h2>
        <div class="toolbar">
          ${select('growth_by', 'Group by', GROUPS.filter(([g]) => g !== 'total'), this.growthBy, (v) => this.set('growthBy', v))}
          ${select('window', 'Window', WINDOWS.map((w) => [w, w]), this.window, (v) => this.set('window', v))}
          ${this.growth ? exportButtons(`growth-${this.instance.id}`, ['key', 'start', 'end', 'growth', 'peak'].map((key) => ({ key })), this.growth.groups) : nothing}
        </div>
        ${this.growth ? this.growthTable() : nothing}
      </section>`;
  }

  historyRows() {
    return (this.history?.series || []).flatMap((s) => s.points.map(([t, v]) => ({ key: s.key, time: formatTime(t), sessions: v })));
  }

  historyExport() {
    return exportButtons(`history-${this.instance.id}`, ['key', 'time', 'sessions'].map((key) => ({ key })), this.historyRows());
  }

  historyView() {
    const h = this.history;
    if (!h.series.length) return html`<p class="empty">No samples yet in this period.</p>`;
    const latest = (s) => [...s.points].reverse().find(([, v]) => v !== null)?.[1] ?? '–';
    const peak = (s) => Math.max(0, ...s.points.map(([, v]) => v ?? 0));
    const label = `Sessions per ${this.groupBy} from ${h.since} to ${h.until}, one point per ${h.step} s`;
    return html`<div class="chart" id="chart-history" role="img" aria-label=${label}></div>
      <table class="history">
        <caption>${label}. Empty points: a node could not be read then.</caption>
        <thead><tr><th scope="col">${this.groupBy}</th><th scope="col" class="num">Latest</th><th scope="col" class="num">Peak</th></tr></thead>
        <tbody>${h.series.map((s) => html`<tr><td data-column="key">${s.key}</td><td class="num" data-column="latest">${latest(s)}</td><td class="num" data-column="peak">${peak(s)}</td></tr>`)}</tbody>
      </table>`;
  }

  growthTable() {
    const g = this.growth;
    if (!g.groups.length) return html`<p class="empty">No group grew from ${g.since} to ${g.until}.</p>`;
    return html`<table class="growth">
      <caption>Groups by growth from ${g.since} to ${g.until}${g.gap_buckets ? ` (${g.gap_buckets} periods had an unreadable node)` : ''}</caption>
      <thead><tr><th scope="col">${g.group_by}</th><th scope="col" class="num">At start</th><th scope="col" class="num">Now</th><th scope="col" class="num">Growth</th><th scope="col" class="num">Peak</th></tr></thead>
      <tbody>${g.groups.map((r) => html`<tr class=${r.growth > 0 ? 'suspect' : ''}>
        <td data-column="key">${r.key}</td><td class="num" data-column="start">${r.start}</td><td class="num" data-column="end">${r.end}</td>
        <td class="num" data-column="growth">${r.growth > 0 ? `+${r.growth}` : r.growth}</td><td class="num" data-column="peak">${r.peak}</td></tr>`)}</tbody>
    </table>`;
  }

  rendered(root) {
    if (this.history?.series.length) lineChart(root.querySelector('#chart-history'), aligned(this.history.series));
  }

  dispose() {
    super.dispose();
    disposeCharts(this.app.root);
  }
}
