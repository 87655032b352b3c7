// Sign-in: IAM password sign-in (POST /v3/auth/tokens); the token goes to sessionStorage only.
import { html, nothing } from '../../vendor/lit-html/lit-html.js';
import { request } from '../api.js';
import { auth } from '../auth.js';
import { errorBanner } from '../ui.js';
import { Page } from '../page.js';

const PROJECT_ID = /^[0-9a-f]{32}$/;
const REMEMBERED = 'sessionplane.signin-fields'; // domain, user and project: never the password

export class SignInPage extends Page {
  static refreshKey = 'signin';

  constructor(app, params) {
    super(app, params);
    this.reason = auth.takeReason();
    this.busy = false;
    try {
      this.fields = JSON.parse(sessionStorage.getItem(REMEMBERED) || '{}');
    } catch {
      this.fields = {};
    }
  }

  get title() {
    return 'Sign in';
  }

  async submit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const [domain, name, password, project] = ['domain', 'user', 'password', 'project'].map((f) => String(form.get(f) || '').trim());
    sessionStorage.setItem(REMEMBERED, JSON.stringify({ domain, user: name, project }));
    const scope = PROJECT_ID.test(project) ? { id: project } : { name: project };
    const body = {
      auth: {
        identity: { methods: ['password'], password: { user: { name, password, domain: { name: domain } } } },
        scope: { project: scope },
      },
    };
    this.busy = true;
    this.error = null;
    this.reason = '';
    this.update();
    try {
      const { data, headers } = await request('POST', '/v3/auth/tokens', { body, query: { nocatalog: 'true' }, anonymous: true });
      auth.remember({ token: headers.get('X-Subject-Token'), body: data });
      event.target.reset();
      this.app.go('#/instances');
    } catch (error) {
      this.error = error;
      this.busy = false;
      this.update();
    }
  }

  view() {
    const f = this.fields;
    return html`<section class="signin">
      <h1>Sign in to sessionplane</h1>
      ${this.reason ? html`<div class="notice warn" role="alert">${this.reason}</div>` : nothing}
      ${errorBanner(this.error)}
      <form @submit=${(e) => this.submit(e)} autocomplete="on">
        <label>Account (domain) <input name="domain" required autocomplete="organization" .value=${f.domain || ''}></label>
        <label>User <input name="user" required autocomplete="username" .value=${f.user || ''}></label>
        <label>Password <input name="password" type="password" required autocomplete="current-password"></label>
        <label>Project (ID or name) <input name="project" required .value=${f.project || ''}></label>
        <button type="submit" class="primary" ?disabled=${this.busy}>${this.busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
      <p class="hint">The token is kept in this browser tab only (sessionStorage) and forgotten when you sign out or close the tab.</p>
    </section>`;
  }
}
