import { html } from '../../vendor/lit-html/lit-html.js';
import { Page } from '../page.js';

export class HistoryPage extends Page {
  view() {
    return html`<h1>HistoryPage</h1>`;
  }
}
