// The close dialog: preview (count and first rows) -> confirm -> close -> result, then the audit
// record's reconnect count once the reconnect window has passed.
import { html, nothing } from '../vendor/lit-html/lit-html.js';
import { ApiError, ext, get } from './api.js';
import { features } from './features.js';
import { mayReadAudit } from './permissions.js';
import { formatSeconds } from './ui.js';

const SHOWN_ROWS = 10;
const POLL_SECONDS = 5;
const POLL_LIMIT = 120; // 10 minutes: longer than any sensible reconnect window

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class CloseFlow {
  constructor(page) {
    this.page = page;
    this.state = null; // {step: 'preview'|'confirm'|'closing'|'done'|'error', ...}
    this.last = null; // the latest finished close, shown on the page after the dialog is dismissed
    this.polls = 0;
    this.timer = null;
  }

  async open(plan) {
    this.plan = plan;
    this.state = { step: 'preview' };
    this.page.pauseRefresh(true);
    this.page.update();
    try {
      const { count, rows, failed = [] } = await plan.preview();
      this.state = { step: 'confirm', count, rows, failed };
    } catch (error) {
      this.state = { step: 'error', error };
    }
    this.page.update();
  }

  async confirm() {
    const { count } = this.state;
    this.state = { step: 'closing', count };
    this.page.update();
    try {
      const result = await this.plan.close(count);
      this.last = { title: this.plan.title, scope: this.plan.scope, since: new Date(Date.now() - 60_000), ...result };
      this.state = { step: 'done' };
      this.track(this.last);
    } catch (error) {
      this.state = { step: 'error', error, stale: error instanceof ApiError && error.code === 'SP.0001' };
    }
    this.page.update();
    this.page.load();
  }

  dismiss() {
    if (this.state?.step === 'closing') return;
    this.state = null;
    this.page.pauseRefresh(false);
    this.page.update();
  }

  dispose() {
    clearTimeout(this.timer);
  }

  // Follow the close's audit record (by audit id, or by request id for GeminiDB closes) until its
  // reconnect count is in.
  async track(result) {
    clearTimeout(this.timer);
    this.polls = 0;
    if (!(await features()).audit || !(await mayReadAudit())) {
      result.untracked = true; // the count is in the audit, which this user may not read
      this.page.update();
      return;
    }
    const poll = async () => {
      if (this.last !== result) return;
      try {
        const answer = await get(ext('/audit'), {
          instance_id: this.plan.instanceId || undefined,
          since: result.since.toISOString(),
          limit: 100,
        });
        const record = (answer.records || []).find(
          (r) => (result.auditId && r.id === result.auditId) || r.request_id === result.requestId,
        );
        if (record) {
          if (result.closed === null || result.closed === undefined) result.closed = record.closed;
          result.reconnected = record.reconnected;
          this.page.update();
          if (record.reconnected !== null && record.reconnected !== undefined) {
            // The page listed the node right after the close: the sessions that came back since are not on it.
            if (record.reconnected > 0 && !this.page.disposed) this.page.load();
            return;
          }
        }
      } catch {
        return; // no audit permission, or the server went away: the close result stands alone
      }
      if (++this.polls < POLL_LIMIT) this.timer = setTimeout(poll, POLL_SECONDS * 1000);
    };
    this.timer = setTimeout(poll, 1000);
  }

  // After each render: open or close the modal <dialog> to match the state.
  sync(root) {
    const dialog = root.querySelector('dialog.close-flow');
    if (!dialog) return;
    if (this.state && !dialog.open) dialog.showModal();
    if (!this.state && dialog.open) dialog.close();
  }

  summary(result = this.last) {
    if (!result) return '';
    const closed = result.closed === null || result.closed === undefined ? 'The sessions were closed' : `Closed ${plural(result.closed, 'session')}`;
    const failed = (result.nodes || []).filter((n) => n.error_code);
    const failures = failed.length ? ` ${failed.length} node(s) failed: ${failed.map((n) => `${n.node_id} ${n.error_code} ${n.error_msg}`).join('; ')}.` : '';
    let back = '';
    if (result.reconnected !== undefined && result.reconnected !== null) {
      back = ` ${plural(result.reconnected, 'session')} came back (same ip, name and user) within the reconnect window.`;
    } else if (result.untracked) {
      back = ' How many came back is recorded in the audit trail.';
    } else if (result.requestId) {
      back = ' Reconnects are counted after the reconnect window.';
    }
    return `${closed} (${result.scope}).${failures}${back} Request ${result.requestId}.`;
  }

  view() {
    const s = this.state;
    return html`<dialog class="close-flow" aria-labelledby="close-flow-title" @cancel=${(e) => { e.preventDefault(); this.dismiss(); }}>
      ${s ? this.body(s) : nothing}
    </dialog>`;
  }

  body(s) {
    const title = html`<h2 id="close-flow-title">${this.plan.title}</h2><p class="scope">Scope: ${this.plan.scope}</p>`;
    if (s.step === 'preview') return html`${title}<p role="status">Previewing (dry run: nothing is closed)…</p>${this.buttons('Cancel')}`;
    if (s.step === 'closing') return html`${title}<p role="status">Closing ${plural(s.count, 'session')}…</p>`;
    if (s.step === 'error') {
      return html`${title}<div class="error" role="alert"><strong>Error:</strong> ${s.error.readable || s.error.message}</div>
        ${s.stale ? html`<p>More sessions match now than you confirmed: nothing was closed. Preview again to see the new count.</p>` : nothing}
        <div class="buttons">
          ${s.stale ? html`<button type="button" @click=${() => this.open(this.plan)}>Preview again</button>` : nothing}
          <button type="button" @click=${() => this.dismiss()}>Close dialog</button>
        </div>`;
    }
    if (s.step === 'done') return html`${title}<p role="status" class="result">${this.summary()}</p>${this.buttons('Done')}`;
    const unread = s.failed.length
      ? html`<div class="notice warn" role="alert">Not counted: ${s.failed.map((f) => `${f.node_id} (${f.error_code} ${f.error_msg})`).join('; ')}</div>`
      : nothing;
    if (!s.count) return html`${title}${unread}<p class="preview-count" role="status">No session matches: nothing to close.</p>${this.buttons('Close dialog')}`;
    return html`${title}${unread}
      <p class="preview-count" role="status"><strong>${plural(s.count, 'session')}</strong> would be closed.</p>
      ${this.previewTable(s.rows)}
      <div class="buttons">
        <button type="button" class="danger" @click=${() => this.confirm()}>Close ${plural(s.count, 'session')}</button>
        <button type="button" @click=${() => this.dismiss()}>Cancel</button>
      </div>`;
  }

  buttons(label) {
    return html`<div class="buttons"><button type="button" @click=${() => this.dismiss()}>${label}</button></div>`;
  }

  previewTable(rows) {
    const shown = rows.slice(0, SHOWN_ROWS);
    return html`<table class="preview">
      <caption>${shown.length < rows.length ? `The first ${shown.length} of ${rows.length}` : 'The sessions'}</caption>
      <thead><tr><th scope="col">ID</th><th scope="col">Node</th><th scope="col">Address</th><th scope="col">Name</th><th scope="col">Idle</th></tr></thead>
      <tbody>${shown.map((r) => html`<tr><td>${r.id}</td><td>${r.node_id || ''}</td><td>${r.addr}</td><td>${r.name}</td><td>${formatSeconds(r.idle)}</td></tr>`)}</tbody>
    </table>`;
  }
}
