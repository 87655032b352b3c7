import { html } from '../../vendor/lit-html/lit-html.js';
import { Page } from '../page.js';

export class AuditPage extends Page {
  view() {
    return html`<h1>AuditPage</h1>`;
  }
}
