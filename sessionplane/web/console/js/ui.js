// Small view helpers shared by the pages: error banners, auto-refresh, export, paging, sortable tables.
import { html, nothing } from '../vendor/lit-html/lit-html.js';

export function errorBanner(error) {
  if (!error) return nothing;
  const text = error.readable || error.message || String(error);
  return html`<div class="error" role="alert"><strong>Error:</strong> ${text}</div>`;
}

export function notice(text, kind = 'info') {
  if (!text) return nothing;
  return html`<div class="notice ${kind}" role="status">${text}</div>`;
}

// Auto-refresh: off, 5, 10, 30 or 60 s, remembered per page for this tab. A tick is skipped while
// the previous load is still running, while the tab is hidden, or while a dialog is open.
const PERIODS = [0, 5, 10, 30, 60];

export class AutoRefresh {
  constructor(key, tick) {
    this.key = `sessionplane.refresh.${key}`;
    this.tick = tick;
    this.seconds = Number(sessionStorage.getItem(this.key) || 0);
    this.timer = null;
    this.paused = false;
  }

  start() {
    this.stop();
    if (this.seconds > 0) {
      this.timer = setInterval(() => {
        if (!document.hidden && !this.paused) this.tick();
      }, this.seconds * 1000);
    }
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  set(seconds) {
    this.seconds = seconds;
    sessionStorage.setItem(this.key, String(seconds));
    this.start();
  }

  view() {
    return html`<label class="refresh">Auto-refresh
      <select name="refresh" @change=${(event) => this.set(Number(event.target.value))}>
        ${PERIODS.map((s) => html`<option value=${s} ?selected=${s === this.seconds}>${s ? `every ${s} s` : 'off'}</option>`)}
      </select></label>`;
  }
}

// Export of the rows on screen. Cells that a spreadsheet would read as a formula (client names are
// set by clients: untrusted) are prefixed with a quote, as OWASP advises for CSV injection.
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^-?\d+(\.\d+)?$/;

function csvCell(value) {
  let text = value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.key)).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(c.value ? c.value(row) : row[c.key])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function download(filename, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function exportButtons(name, columns, rows) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const plain = () => rows.map((row) => Object.fromEntries(columns.map((c) => [c.key, (c.value ? c.value(row) : row[c.key]) ?? ''])));
  return html`<span class="export">
    <button type="button" ?disabled=${!rows.length} @click=${() => download(`${name}-${stamp}.csv`, 'text/csv', toCsv(columns, rows))}>Export CSV</button>
    <button type="button" ?disabled=${!rows.length} @click=${() => download(`${name}-${stamp}.json`, 'application/json', `${JSON.stringify(plain(), null, 2)}\n`)}>Export JSON</button>
  </span>`;
}

export function pager({ offset, limit, total, onPage, onLimit, sizes = [25, 50, 100] }) {
  const first = total ? offset + 1 : 0;
  const last = Math.min(offset + limit, total);
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" ?disabled=${offset === 0} @click=${() => onPage(Math.max(0, offset - limit))}>Previous</button>
    <span class="range" aria-live="polite">${first}–${last} of ${total}</span>
    <button type="button" ?disabled=${last >= total} @click=${() => onPage(offset + limit)}>Next</button>
    ${onLimit
      ? html`<label>Rows per page
          <select name="page-size" @change=${(e) => onLimit(Number(e.target.value))}>
            ${sizes.map((n) => html`<option value=${n} ?selected=${n === limit}>${n}</option>`)}
          </select></label>`
      : nothing}
  </nav>`;
}

// Client-side sorting: numbers as numbers (every session field is a decimal string on the wire).
export function compareBy(column, direction) {
  const value = column.value || ((row) => row[column.key]);
  const sign = direction === 'desc' ? -1 : 1;
  return (a, b) => {
    const x = value(a);
    const y = value(b);
    const order = column.numeric ? Number(x) - Number(y) : String(x ?? '').localeCompare(String(y ?? ''));
    return sign * order;
  };
}

export function sortHeader(column, sort, onSort) {
  const active = sort.key === column.key;
  const state = active ? (sort.direction === 'asc' ? 'ascending' : 'descending') : 'none';
  const arrow = active ? (sort.direction === 'asc' ? '▲' : '▼') : '';
  const next = active && sort.direction === 'asc' ? 'desc' : 'asc';
  return html`<th scope="col" aria-sort=${state} class=${column.numeric ? 'num' : ''}>
    <button type="button" class="sort" title=${column.help || ''} data-column=${column.key}
      @click=${() => onSort({ key: column.key, direction: next })}>${column.label}<span aria-hidden="true">${arrow}</span></button>
  </th>`;
}

export function columnHelp(columns) {
  return html`<details class="help"><summary>Column help</summary>
    <dl>${columns.filter((c) => c.help).map((c) => html`<dt>${c.label}</dt><dd>${c.help}</dd>`)}</dl>
  </details>`;
}

// Glob (`*`, `?`) to a RegExp, every other character taken literally.
export function globMatcher(pattern) {
  const body = [...pattern].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'i');
}

export function splitList(text) {
  return String(text || '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

export function formatSeconds(value) {
  const s = Number(value);
  if (!Number.isFinite(s)) return String(value ?? '');
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export function formatTime(value) {
  if (!value) return '';
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
