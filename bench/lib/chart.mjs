// The README chart: horizontal bar panels drawn as plain SVG (no chart library).
//
// renderChart({ title, subtitle, panels: [{ title, unit, bars: [{ label, value, note, highlight, bad }] }] })

const WIDTH = 860;
const LABEL_WIDTH = 250;
const BAR_AREA = 400;
const ROW = 24;
const BAR = 16;
const COLORS = { timberlock: '#2f7d4f', other: '#8a96a3', bad: '#c0504d', text: '#1f2328', muted: '#57606a', grid: '#d0d7de' };

/** An SVG document (string) with one panel per entry of `panels`, stacked vertically. */
export function renderChart({ title, subtitle, panels, footer }) {
  const parts = [];
  let y = 28;
  parts.push(text(16, y, title, { size: 17, weight: 600 }));
  if (subtitle) {
    y += 20;
    parts.push(text(16, y, subtitle, { size: 12, fill: COLORS.muted }));
  }
  y += 16;
  for (const panel of panels) {
    y += 22;
    parts.push(text(16, y, panel.title, { size: 14, weight: 600 }));
    y += 10;
    const top = Math.max(...panel.bars.map((bar) => (Number.isFinite(bar.value) ? bar.value : 0)), 1);
    const { scale, ticks } = axis(top);
    for (let tick = 0; tick <= ticks; tick++) {
      const x = LABEL_WIDTH + (BAR_AREA * tick) / ticks;
      parts.push(`<line x1="${x}" y1="${y}" x2="${x}" y2="${y + panel.bars.length * ROW + 4}" stroke="${COLORS.grid}" stroke-width="1"/>`);
      parts.push(text(x, y + panel.bars.length * ROW + 18, compact((scale * tick) / ticks), { size: 10, fill: COLORS.muted, anchor: 'middle' }));
    }
    for (const bar of panel.bars) {
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      const width = Math.max(1, (BAR_AREA * value) / scale);
      const fill = bar.bad ? COLORS.bad : bar.highlight ? COLORS.timberlock : COLORS.other;
      parts.push(text(LABEL_WIDTH - 8, y + BAR - 3, bar.label, { size: 12, anchor: 'end', weight: bar.highlight ? 600 : 400 }));
      parts.push(`<rect x="${LABEL_WIDTH}" y="${y + 2}" width="${width.toFixed(1)}" height="${BAR}" rx="2" fill="${fill}"><title>${escape(`${bar.label}: ${compact(bar.value)} ${panel.unit}`)}</title></rect>`);
      const shown = Number.isFinite(bar.value) ? compact(bar.value) : 'no result';
      const note = bar.note ? ` · ${bar.note}` : '';
      parts.push(text(LABEL_WIDTH + width + 6, y + BAR - 3, `${shown}${note}`, { size: 11, fill: bar.bad ? COLORS.bad : COLORS.text }));
      y += ROW;
    }
    y += 36;
    parts.push(text(LABEL_WIDTH, y, panel.unit, { size: 11, fill: COLORS.muted }));
    y += 6;
  }
  if (footer) {
    for (const line of [].concat(footer)) {
      y += 18;
      parts.push(text(16, y, line, { size: 11, fill: COLORS.muted }));
    }
  }
  y += 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${y}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

function text(x, y, content, { size = 12, weight = 400, fill = COLORS.text, anchor = 'start' } = {}) {
  return `<text x="${x}" y="${y}" font-size="${size}" font-weight="${weight}" fill="${fill}" text-anchor="${anchor}">${escape(content)}</text>`;
}

function escape(value) {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1234567 → "1.23M", 45600 → "45.6k". */
export function compact(value) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 1 : 2)}M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k`;
  return value.toFixed(value > 0 && value < 10 ? 1 : 0);
}

/** The axis end, a round number ≥ value (1, 2, 2.5, 5 × 10^k), and how many round steps divide it. */
function axis(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const [step, ticks] of [[1, 5], [2, 4], [2.5, 5], [5, 5], [10, 5]]) {
    if (step * power >= value) return { scale: step * power, ticks };
  }
  return { scale: 10 * power, ticks: 5 };
}
