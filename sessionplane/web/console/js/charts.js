// uPlot charts: bars for top-N counts, lines for history. Each chart sits in an element with
// role="img" and a label; the same figures are always in a table beside it.
import uPlot from '../vendor/uplot/uPlot.esm.js';

const PALETTE = ['#1f4e79', '#b5542a', '#2e7d32', '#6a3d9a', '#8a6d00', '#00697a', '#a2185b', '#4e5d6c'];
const AXIS = { stroke: '#333', grid: { stroke: '#e3e3e3' }, ticks: { stroke: '#ccc' } };

function widthOf(element) {
  return Math.max(320, Math.min(element.clientWidth || 640, 960));
}

// Replace the chart in `element` when `data` changed since the last draw (compared as JSON).
export function draw(element, data, build) {
  if (!element) return;
  const key = JSON.stringify(data);
  if (element.dataset.drawn === key) return;
  element.chart?.destroy();
  element.replaceChildren();
  element.dataset.drawn = key;
  element.chart = build(element, data);
}

export function barChart(element, { labels, values, label }) {
  draw(element, { labels, values }, (el) => {
    const xs = labels.map((_, i) => i);
    const opts = {
      width: widthOf(el),
      height: 220,
      legend: { show: false },
      cursor: { show: false },
      scales: { x: { time: false, range: () => [-0.6, Math.max(labels.length, 1) - 0.4] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { ...AXIS, splits: () => xs, values: (_u, splits) => splits.map((i) => labels[i] ?? ''), size: 50, rotate: labels.length > 5 ? -25 : 0 },
        { ...AXIS, label },
      ],
      series: [{}, { label, fill: '#1f4e79cc', stroke: '#1f4e79', width: 1, paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false } }],
    };
    return new uPlot(opts, [xs, values], el);
  });
}

export function lineChart(element, { times, series }) {
  draw(element, { times, series }, (el) => {
    const opts = {
      width: widthOf(el),
      height: 280,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [AXIS, { ...AXIS, label: 'sessions' }],
      series: [
        {},
        ...series.map((s, i) => ({ label: s.label || '(unnamed)', stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: false, points: { show: times.length < 60 } })),
      ],
    };
    return new uPlot(opts, [times, ...series.map((s) => s.values)], el);
  });
}

export function disposeCharts(root) {
  for (const element of root.querySelectorAll('.chart')) element.chart?.destroy();
}
