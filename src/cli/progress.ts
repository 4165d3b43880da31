/**
 * A one-line progress bar on stderr, redrawn in place with \r: percentage, bytes, rate, time
 * left. It draws only on a terminal and without --quiet, so pipes and logs stay clean.
 */

export interface Progress {
  /** Bytes done so far (cumulative). */
  update(bytes: number): void;
  /** Clears the line; call once at the end, on success or failure. */
  done(): void;
}

export interface ProgressOptions {
  write: (s: string) => void;
  enabled: boolean;
  label: string;
  /** Expected total bytes; without it only bytes and rate are shown. */
  total?: number;
  /** Clock in ms, injectable for tests. */
  now?: () => number;
  /** Minimum ms between redraws. */
  interval?: number;
}

/** Sizes as lxc prints them: 1024-based, two decimals, "B", "kB", "MB", … */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)}B`;
  let v = n;
  for (const unit of ["kB", "MB", "GB", "TB", "PB"]) {
    v /= 1024;
    if (v < 1024) return `${v.toFixed(2)}${unit}`;
  }
  return `${(v / 1024).toFixed(2)}EB`;
}

function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** The text of one progress line (without \r). */
export function progressLine(label: string, bytes: number, elapsedMs: number, total?: number) {
  const rate = elapsedMs > 0 ? bytes / (elapsedMs / 1000) : 0;
  const speed = `${formatBytes(rate)}/s`;
  if (!total) return `${label}: ${formatBytes(bytes)} (${speed})`;
  const pct = Math.min(100, Math.floor((bytes / total) * 100));
  const eta = rate > 0 ? `, ${formatEta((total - bytes) / rate)} left` : "";
  return `${label}: ${pct}% (${formatBytes(bytes)}/${formatBytes(total)}, ${speed}${eta})`;
}

export function createProgress(opts: ProgressOptions): Progress {
  if (!opts.enabled) return { update() {}, done() {} };
  const now = opts.now ?? Date.now;
  const interval = opts.interval ?? 100;
  const start = now();
  let last = -Infinity;
  let drawn = false;
  return {
    update(bytes) {
      const t = now();
      const final = opts.total !== undefined && bytes >= opts.total;
      if (!final && t - last < interval) return;
      last = t;
      drawn = true;
      opts.write(`\r${progressLine(opts.label, bytes, t - start, opts.total)}\x1b[K`);
    },
    done() {
      if (drawn) opts.write("\r\x1b[K");
      drawn = false;
    },
  };
}
