// Dashboard: requests per day and the latency histogram as SVG bar charts. Aggregates only: this page is
// public, so nothing on it links to or shows a result (those are reached by their share links alone).
const SVG_NS = 'http://www.w3.org/2000/svg';

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function barChart(svg, bars) {
  const width = 600, height = 260, left = 40, bottom = 40, top = 16, right = 8;
  svg.replaceChildren();
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  svg.append(el('line', { class: 'axis', x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
  svg.append(el('line', { class: 'axis', x1: left, y1: top, x2: left, y2: height - bottom }));
  svg.append(el('text', { x: left - 6, y: top + 4, 'text-anchor': 'end' }, String(max)));
  svg.append(el('text', { x: left - 6, y: height - bottom, 'text-anchor': 'end' }, '0'));
  if (bars.length === 0) {
    svg.append(el('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'no data yet'));
    return;
  }
  const slot = plotW / bars.length;
  const labelEvery = Math.ceil(bars.length / 8);
  bars.forEach((bar, i) => {
    const h = (bar.value / max) * plotH;
    const x = left + i * slot + slot * 0.15;
    const rect = el('rect', { class: 'bar', x, y: height - bottom - h, width: slot * 0.7, height: h });
    rect.append(el('title', {}, `${bar.label}: ${bar.value}`));
    svg.append(rect);
    if (bar.value > 0) svg.append(el('text', { class: 'value', x: x + slot * 0.35, y: height - bottom - h - 4, 'text-anchor': 'middle' }, String(bar.value)));
    if (i % labelEvery === 0) svg.append(el('text', { x: x + slot * 0.35, y: height - bottom + 16, 'text-anchor': 'middle' }, bar.label));
  });
}

function summaryItem(value, label) {
  const div = document.createElement('div');
  const strong = document.createElement('strong');
  strong.textContent = value;
  const span = document.createElement('span');
  span.textContent = label;
  div.append(strong, span);
  return div;
}

async function load() {
  const response = await fetch('/api/v1/stats');
  const stats = await response.json();
  document.getElementById('summary').replaceChildren(
    summaryItem(String(stats.total), 'results stored'),
    summaryItem(stats.latency.p50Ms === null ? '–' : `${Math.round(stats.latency.p50Ms)} ms`, 'p50 latency'),
    summaryItem(stats.latency.p95Ms === null ? '–' : `${Math.round(stats.latency.p95Ms)} ms`, 'p95 latency'),
    summaryItem(String(stats.perDay.at(-1)?.count ?? 0), `on ${stats.perDay.at(-1)?.day ?? 'the last day'}`),
  );
  barChart(document.getElementById('per-day'), stats.perDay.map((day) => ({ label: day.day.slice(5), value: day.count })));
  barChart(
    document.getElementById('latency'),
    stats.latency.buckets.map((bucket, i, all) => ({
      label: bucket.leMs < 0 ? `>${all[i - 1]?.leMs ?? 0}` : `≤${bucket.leMs}`,
      value: bucket.count,
    })),
  );
}

load().catch((error) => {
  document.getElementById('summary').textContent = `Could not load statistics: ${error.message}`;
});
