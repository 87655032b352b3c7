// What every page shares: its load cycle with one error slot, auto-refresh, and re-rendering.
import { AutoRefresh } from './ui.js';

export class Page {
  constructor(app, params) {
    this.app = app;
    this.params = params;
    this.error = null;
    this.loading = false;
    this.refresh = new AutoRefresh(this.constructor.refreshKey || 'page', () => this.load());
  }

  get title() {
    return 'sessionplane';
  }

  update() {
    this.app.render();
  }

  start() {
    this.refresh.start();
    return this.load();
  }

  // Subclasses implement fetch(); a tick that arrives while a load runs is skipped.
  async load() {
    if (this.loading) return;
    this.loading = true;
    this.update();
    try {
      await this.fetch();
      this.error = null;
    } catch (error) {
      this.error = error;
    } finally {
      this.loading = false;
      this.update();
    }
  }

  async fetch() {}

  pauseRefresh(paused) {
    this.refresh.paused = paused;
  }

  rendered(_root) {}

  dispose() {
    this.refresh.stop();
  }
}
