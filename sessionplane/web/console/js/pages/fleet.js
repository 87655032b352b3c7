import { html } from '../../vendor/lit-html/lit-html.js';
import { Page } from '../page.js';

export class FleetPage extends Page {
  view() {
    return html`<h1>FleetPage</h1>`;
  }
}
