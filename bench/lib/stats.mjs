// Small statistics helpers. Percentiles use the nearest-rank method on the sorted sample.

/** The middle value; for an even count, the mean of the two middle values. NaN for an empty sample. */
export function median(values) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The nearest-rank percentile `p` (0..1) of `values`; NaN for an empty sample. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil(p * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function max(values) {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => (b > a ? b : a), -Infinity);
}

export function sum(values) {
  return values.reduce((a, b) => a + b, 0);
}

/** { p50, p99, max, n } of a sample, rounded to µs when the values are ms. */
export function distribution(values) {
  return { n: values.length, p50: percentile(values, 0.5), p99: percentile(values, 0.99), max: max(values) };
}
