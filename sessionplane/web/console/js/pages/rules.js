import { html } from '../../vendor/lit-html/lit-html.js';
import { Page } from '../page.js';

export class RulesPage extends Page {
  view() {
    return html`<h1>RulesPage</h1>`;
  }
}
