// Plain-text tables for the terminal: a header, a rule, right-aligned numbers.

/** Render `rows` (arrays of cells) under `header`; a cell that is a number is right-aligned. */
export function renderTable(header, rows) {
  const cells = [header, ...rows].map((row) => row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || /^([-+]?[\d.,]+( ms| \([\d.,]+\))?|–)$/.test(String(row[i] ?? ''))));
  const line = (row) => row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** 1234567 → "1,234,567"; fractions keep `digits` decimals. */
export function fmt(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
