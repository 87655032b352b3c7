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

  // Subclasses implement fetch(). A load asked for while one runs (a new search, a refresh tick)
  // runs once more right after it, so the page always ends up showing the latest request.
  async load() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    this.again = false;
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
    if (this.again && !this.disposed) await this.load();
  }

  async fetch() {}

  pauseRefresh(paused) {
    this.refresh.paused = paused;
  }

  rendered(_root) {}

  dispose() {
    this.disposed = true;
    this.refresh.stop();
  }
}
