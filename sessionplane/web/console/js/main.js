// The console's shell: hash routes -> pages, the header and navigation, sign-out, and 401 handling.
import { html, nothing, render } from '../vendor/lit-html/lit-html.js';
import { onUnauthorized } from './api.js';
import { auth } from './auth.js';
import { AuditPage } from './pages/audit.js';
import { FleetPage } from './pages/fleet.js';
import { HistoryPage } from './pages/history.js';
import { InstancePage } from './pages/instance.js';
import { InstancesPage } from './pages/instances.js';
import { RulesPage } from './pages/rules.js';
import { SignInPage } from './pages/signin.js';
import { StatisticsPage } from './pages/statistics.js';

const ROUTES = [
  [/^\/signin$/, SignInPage],
  [/^\/instances$/, InstancesPage],
  [/^\/instances\/([^/]+)$/, InstancePage],
  [/^\/instances\/([^/]+)\/statistics$/, StatisticsPage],
  [/^\/instances\/([^/]+)\/history$/, HistoryPage],
  [/^\/instances\/([^/]+)\/rules$/, RulesPage],
  [/^\/fleet$/, FleetPage],
  [/^\/audit$/, AuditPage],
];

function parseHash() {
  const [path, query = ''] = window.location.hash.replace(/^#/, '').split('?');
  return { path: path || '/instances', query: new URLSearchParams(query) };
}

class App {
  constructor(root) {
    this.root = root;
    this.root.replaceChildren(); // the static "Loading" placeholder
    this.page = null;
  }

  go(hash) {
    if (window.location.hash === hash) this.route();
    else window.location.hash = hash;
  }

  route() {
    const { path, query } = parseHash();
    if (!auth.signedIn && path !== '/signin') return this.go('#/signin');
    if (auth.signedIn && path === '/signin') return this.go('#/instances');
    const match = ROUTES.map(([pattern, PageClass]) => [path.match(pattern), PageClass]).find(([m]) => m);
    this.page?.dispose();
    if (!match) {
      this.page = null;
      this.render();
      return undefined;
    }
    const [groups, PageClass] = match;
    this.page = new PageClass(this, { id: groups[1] && decodeURIComponent(groups[1]), query });
    this.render();
    return this.page.start();
  }

  signOut() {
    auth.forget();
    this.go('#/signin');
  }

  render() {
    const page = this.page;
    document.title = page ? `${page.title} · sessionplane` : 'Not found · sessionplane';
    render(html`${auth.signedIn ? this.header() : nothing}
      <main id="main">${page ? page.view() : html`<h1>Not found</h1><p><a href="#/instances">Instances</a></p>`}</main>`, this.root);
    page?.rendered(this.root);
  }

  header() {
    const who = auth.current;
    const path = parseHash().path;
    const link = (href, label, active) => html`<a href=${href} aria-current=${active ? 'page' : 'false'}>${label}</a>`;
    return html`<header class="top">
      <span class="brand">sessionplane</span>
      <nav aria-label="Main">
        ${link('#/instances', 'Instances', path.startsWith('/instances'))}
        ${link('#/fleet', 'Fleet search', path === '/fleet')}
        ${link('#/audit', 'Audit', path === '/audit')}
      </nav>
      <span class="who">${who.userName} @ ${who.domain} · project ${who.projectName}</span>
      <button type="button" class="signout" @click=${() => this.signOut()}>Sign out</button>
    </header>`;
  }
}

const app = new App(document.getElementById('app'));
onUnauthorized(() => app.go('#/signin'));
window.addEventListener('hashchange', () => app.route());
app.route();
