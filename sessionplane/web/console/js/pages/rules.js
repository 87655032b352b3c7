// Close rules of an instance: list, create, enable/disable, report/enforce, delete, and each rule's runs.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { del, ext, get, patch, post, segment } from '../api.js';
import { features } from '../features.js';
import { instanceById } from '../inventory.js';
import { Page } from '../page.js';
import { mayChangeRules } from '../permissions.js';
import { describeSelector, emptySelectorFields, selectorFieldset, selectorOf } from '../selector.js';
import { errorBanner, exportButtons, formatTime, notice } from '../ui.js';
import { instanceHeading, tabs } from './instance.js';

const RULE_COLUMNS = ['id', 'name', 'mode', 'enabled', 'interval_seconds', 'max_per_run', 'match', 'exclude', 'disabled_reason', 'updated_at'].map((key) => ({ key }));
const RUN_COLUMNS = ['id', 'started_at', 'finished_at', 'mode', 'matched', 'closed', 'reconnected'].map((key) => ({ key }));

export class RulesPage extends Page {
  static refreshKey = 'rules';

  constructor(app, params) {
    super(app, params);
    this.instance = null;
    this.rules = null;
    this.runsOf = null; // the rule whose runs are shown
    this.runs = null;
    this.message = '';
    this.form = { name: '', interval_seconds: 60, mode: 'report', max_per_run: 1000, enabled: true, ...emptySelectorFields() };
  }

  get title() {
    return this.instance ? `${this.instance.name}: rules` : 'Rules';
  }

  path(suffix = '') {
    return ext(`/instances/${segment(this.instance.id)}/close-rules${suffix}`);
  }

  async fetch() {
    if (!this.instance) {
      this.instance = await instanceById(this.params.id);
      this.available = (await features()).rules;
      this.mayWrite = this.available && (await mayChangeRules(this.instance));
    }
    if (!this.available) return;
    this.rules = (await get(this.path())).rules;
    if (this.runsOf) this.runs = (await get(this.path(`/${segment(this.runsOf.id)}/runs`))).runs;
  }

  async act(task, message) {
    this.error = null;
    try {
      await task();
      this.message = message;
    } catch (error) {
      this.error = error;
      this.message = '';
    }
    await this.load();
  }

  create(event) {
    event.preventDefault();
    const f = this.form;
    const body = {
      name: f.name.trim(),
      ...selectorOf(f),
      interval_seconds: Number(f.interval_seconds),
      mode: f.mode,
      max_per_run: Number(f.max_per_run),
      enabled: f.enabled,
    };
    this.act(async () => {
      await post(this.path(), body);
      this.form = { ...this.form, name: '', ...emptySelectorFields() };
      // reset() empties the name and selector inputs (lit does not see typing, so it would not);
      // the inputs the next rule keeps get their values back, so the screen shows what it would send.
      const form = event.target;
      form.reset();
      form.elements.interval_seconds.value = String(this.form.interval_seconds);
      form.elements.max_per_run.value = String(this.form.max_per_run);
      form.elements.mode.value = this.form.mode;
      form.elements.enabled.checked = this.form.enabled;
    }, `Rule ${body.name} created.`);
  }

  showRuns(rule) {
    this.runsOf = rule;
    this.runs = null;
    this.load();
  }

  view() {
    if (!this.instance) return html`<h1>Rules</h1>${errorBanner(this.error)}`;
    return html`${instanceHeading(this.instance, 'close rules')}
      ${tabs(this.instance, 'rules')}
      ${this.available === false ? notice('This server has no close rules (no close-rules endpoint).', 'warn') : nothing}
      <div class="toolbar">${this.refresh.view()} ${exportButtons(`rules-${this.instance.id}`, RULE_COLUMNS, this.rules || [])}
        <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span></div>
      ${errorBanner(this.error)}
      ${notice(this.message, 'ok')}
      ${this.rules ? this.table() : nothing}
      ${this.runsOf ? this.runsView() : nothing}
      ${this.mayWrite ? this.createForm() : this.available ? html`<p class="hint readonly">Creating and changing rules needs <code>deleteSession</code>.</p>` : nothing}`;
  }

  table() {
    if (!this.rules.length) return html`<p class="empty">No rule on this instance yet.</p>`;
    return html`<table class="rules">
      <caption class="sr-only">Close rules</caption>
      <thead><tr><th scope="col">Rule</th><th scope="col">Selects</th><th scope="col">Mode</th><th scope="col">Every</th><th scope="col" class="num">At most</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
      <tbody>${this.rules.map((rule) => this.row(rule))}</tbody>
    </table>`;
  }

  row(rule) {
    const rulePath = this.path(`/${segment(rule.id)}`);
    const change = (body, message) => this.act(() => patch(rulePath, body), message);
    return html`<tr data-rule=${rule.id}>
      <td data-column="name">${rule.name}<div class="id">${rule.id}</div></td>
      <td>${describeSelector(rule)}</td>
      <td data-column="mode">${rule.mode}</td>
      <td>${rule.interval_seconds} s</td>
      <td class="num">${rule.max_per_run}</td>
      <td data-column="enabled">${rule.enabled ? 'enabled' : 'disabled'}${rule.disabled_reason ? html`<div class="node-error">${rule.disabled_reason}</div>` : nothing}</td>
      <td class="row-actions">
        <button type="button" @click=${() => this.showRuns(rule)}>Runs of ${rule.name}</button>
        ${this.mayWrite
          ? html`<button type="button" @click=${() => change({ enabled: !rule.enabled }, `Rule ${rule.name} ${rule.enabled ? 'disabled' : 'enabled'}.`)}>${rule.enabled ? 'Disable' : 'Enable'} ${rule.name}</button>
            <button type="button" @click=${() => change({ mode: rule.mode === 'enforce' ? 'report' : 'enforce' }, `Rule ${rule.name} now ${rule.mode === 'enforce' ? 'reports' : 'enforces'}.`)}>Switch ${rule.name} to ${rule.mode === 'enforce' ? 'report' : 'enforce'}</button>
            <button type="button" class="danger" @click=${() => this.remove(rule)}>Delete ${rule.name}</button>`
          : nothing}
      </td>
    </tr>`;
  }

  remove(rule) {
    if (!window.confirm(`Delete rule ${rule.name}? Its runs stay in the audit trail.`)) return;
    if (this.runsOf?.id === rule.id) this.runsOf = null;
    this.act(() => del(this.path(`/${segment(rule.id)}`)), `Rule ${rule.name} deleted.`);
  }

  runsView() {
    const runs = this.runs || [];
    const failures = (run) => (run.nodes || []).filter((n) => n.error_code).map((n) => `${n.node_id}: ${n.error_code} ${n.error_msg}`).join('; ');
    return html`<section class="panel" aria-labelledby="runs-title">
      <h2 id="runs-title">Runs of ${this.runsOf.name}</h2>
      ${exportButtons(`runs-${this.runsOf.id}`, RUN_COLUMNS, runs)}
      ${runs.length
        ? html`<table class="runs">
            <caption class="sr-only">Runs, newest first</caption>
            <thead><tr><th scope="col">Started</th><th scope="col">Finished</th><th scope="col">Mode</th><th scope="col" class="num">Matched</th><th scope="col" class="num">Closed</th><th scope="col" class="num">Came back</th><th scope="col">Node errors</th></tr></thead>
            <tbody>${runs.map((run) => html`<tr data-run=${run.id}>
              <td>${formatTime(run.started_at)}</td><td>${formatTime(run.finished_at)}</td><td data-column="mode">${run.mode}</td>
              <td class="num" data-column="matched">${run.matched}</td><td class="num" data-column="closed">${run.closed}</td>
              <td class="num" data-column="reconnected">${run.reconnected ?? '…'}</td><td>${failures(run)}</td></tr>`)}</tbody>
          </table>`
        : html`<p class="empty">${this.runs === null ? 'Loading…' : 'No run yet.'}</p>`}
    </section>`;
  }

  createForm() {
    const f = this.form;
    const set = (key, value) => { this.form = { ...this.form, [key]: value }; };
    const setSelector = (group, key, value) => { this.form = { ...this.form, [group]: { ...this.form[group], [key]: value } }; };
    return html`<section class="panel" aria-labelledby="create-title">
      <h2 id="create-title">New rule</h2>
      <form class="stack" @submit=${(e) => this.create(e)}>
        <label>Rule name <input name="rule-name" required maxlength="64" .value=${f.name} @input=${(e) => set('name', e.target.value)}></label>
        <label>Every (s) <input name="interval_seconds" type="number" min="10" required .value=${String(f.interval_seconds)} @input=${(e) => set('interval_seconds', e.target.value)}></label>
        <label>Mode <select name="mode" @change=${(e) => set('mode', e.target.value)}>
          <option value="report" ?selected=${f.mode === 'report'}>report (count only)</option>
          <option value="enforce" ?selected=${f.mode === 'enforce'}>enforce (close)</option></select></label>
        <label>At most per run <input name="max_per_run" type="number" min="1" .value=${String(f.max_per_run)} @input=${(e) => set('max_per_run', e.target.value)}></label>
        <label class="check"><span><input type="checkbox" name="enabled" .checked=${f.enabled} @change=${(e) => set('enabled', e.target.checked)}> Enabled</span></label>
        ${selectorFieldset(f, setSelector, { prefix: 'rule' })}
        <button type="submit" class="primary">Create rule</button>
      </form>
    </section>`;
  }
}
