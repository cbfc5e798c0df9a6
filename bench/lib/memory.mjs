// Peak memory of the current process.
import fs from 'node:fs';

/**
 * Peak resident set size of this process in MB. On Linux this is VmHWM from /proc/self/status: the
 * peak of this process's own address space. process.resourceUsage().maxRSS is not used there because
 * Linux carries it over from the parent through fork and exec: a child started by a runner that uses
 * 120 MB reports at least 120 MB. Elsewhere maxRSS is all there is.
 */
export function peakRssMB() {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // No procfs (macOS, Windows): fall back to getrusage.
  }
  return process.resourceUsage().maxRSS / 1024;
}
