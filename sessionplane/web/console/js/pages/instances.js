// Instances: each instance's status (the health probe's), its nodes and their session totals.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { segment } from '../api.js';
import { listInstances, nodeTotals, nodesOf } from '../inventory.js';
import { Page } from '../page.js';
import { errorBanner, exportButtons, pager } from '../ui.js';

const statusBadge = (status) => html`<span class="badge ${status === 'normal' ? 'ok' : 'bad'}">${status}</span>`;

export class InstancesPage extends Page {
  static refreshKey = 'instances';

  constructor(app, params) {
    super(app, params);
    this.instances = null;
    this.totals = {};
    this.total = 0;
    this.offset = 0;
    this.limit = 25;
  }

  get title() {
    return 'Instances';
  }

  async fetch() {
    const answer = await listInstances({ offset: this.offset, limit: this.limit });
    const totals = await Promise.all(answer.instances.map((instance) => nodeTotals(instance)));
    this.instances = answer.instances;
    this.total = answer.total_count;
    this.totals = Object.assign({}, ...totals);
  }

  sessionsOf(instance) {
    return nodesOf(instance).reduce((sum, node) => sum + (this.totals[node.id]?.total ?? 0), 0);
  }

  rows() {
    return (this.instances || []).map((instance) => ({
      id: instance.id,
      name: instance.name,
      status: instance.status,
      mode: instance.mode,
      nodes: nodesOf(instance).map((n) => `${n.name} ${n.private_ip}:${n.port} ${n.status}`).join('; '),
      sessions: this.sessionsOf(instance),
    }));
  }

  view() {
    const columns = ['id', 'name', 'status', 'mode', 'nodes', 'sessions'].map((key) => ({ key }));
    return html`<h1>Instances</h1>
      <div class="toolbar">
        ${this.refresh.view()} ${exportButtons('instances', columns, this.rows())}
        <span class="loading" aria-live="polite">${this.loading ? 'Loading…' : ''}</span>
      </div>
      ${errorBanner(this.error)}
      ${this.instances === null ? nothing : this.instances.length ? this.table() : html`<p>No instance in this project yet. Operators add them with <code>sessionplane instance add</code>.</p>`}
      ${pager({ offset: this.offset, limit: this.limit, total: this.total, onPage: (o) => { this.offset = o; this.load(); } })}`;
  }

  table() {
    return html`<table class="instances">
      <caption class="sr-only">Instances of the project</caption>
      <thead><tr><th scope="col">Instance</th><th scope="col">Status</th><th scope="col">Mode</th><th scope="col">Nodes</th><th scope="col" class="num">Sessions</th></tr></thead>
      <tbody>${this.instances.map((instance) => this.row(instance))}</tbody>
    </table>`;
  }

  row(instance) {
    const id = segment(instance.id);
    return html`<tr data-instance=${instance.id}>
      <td><a href="#/instances/${id}">${instance.name}</a><div class="id">${instance.id}</div>
        <div class="links"><a href="#/instances/${id}/statistics">Statistics</a> · <a href="#/instances/${id}/history">History</a> · <a href="#/instances/${id}/rules">Rules</a></div></td>
      <td>${statusBadge(instance.status)}</td>
      <td>${instance.mode}</td>
      <td><ul class="nodes">${nodesOf(instance).map((node) => this.node(node))}</ul></td>
      <td class="num total">${this.sessionsOf(instance)}</td>
    </tr>`;
  }

  node(node) {
    const total = this.totals[node.id];
    return html`<li data-node=${node.id}>${node.name} <span class="addr">${node.private_ip}:${node.port}</span> ${statusBadge(node.status)}
      ${total?.error ? html`<span class="node-error">${total.error.readable || total.error.message}</span>` : html`<span class="count">${total?.total ?? '…'} sessions</span>`}</li>`;
  }
}
