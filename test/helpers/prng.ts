/**
 * mulberry32: a small deterministic PRNG yielding uint32 values, so that a failing sequence can be
 * replayed. test/fixtures/stress-writer.mjs (plain .mjs, run by node directly) carries its own copy,
 * which must stay identical.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
