/**
 * Shared pieces of the benchmark: the section contract, medians and verdicts, running commands
 * with wall-clock timing, and finding the tools (Node 26, the imago binary) to measure.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

/** What every section gets: sizes depend on `quick`, rounds on `--rounds`. */
export interface BenchContext {
  quick: boolean;
  rounds: number;
  /** Repository root. */
  root: string;
  /** Cached fixtures, temporary stores and last.json live here. */
  workDir: string;
  /** Which imago to run: "source" (Node 26 on src/cli/main.ts), a binary's path, else auto. */
  imago?: string;
  /** Progress line on stderr; the tables go to stdout. */
  log(msg: string): void;
}

/** A goal on either the ratio imago ÷ peer or on imago's own number. */
export interface Target {
  of: "ratio" | "imago";
  op: ">=" | "<=" | "<";
  value: number;
  text: string;
}

export type Verdict = "PASS" | "MISS" | "-";

/** One line of a section's table; numbers are medians over the rounds. */
export interface Row {
  label: string;
  unit: string;
  imago: number;
  peer?: number;
  ratio?: number;
  target?: Target;
  verdict: Verdict;
  samples: { imago: number[]; peer: number[] };
}

export interface SectionResult {
  title: string;
  /** Names the peer program the "peer" column measured. */
  peer: string;
  rows: Row[];
  notes: string[];
}

/** One benchmark section, selectable by `name` on the command line. */
export interface Section {
  name: string;
  describe: string;
  run(ctx: BenchContext): Promise<SectionResult>;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function meets(value: number, t: Target): boolean {
  if (t.op === ">=") return value >= t.value;
  if (t.op === "<=") return value <= t.value;
  return value < t.value;
}

/** Builds a row from raw samples: medians, imago ÷ peer, and the verdict against `target`. */
export function makeRow(
  label: string,
  unit: string,
  imagoSamples: number[],
  peerSamples: number[],
  target?: Target,
): Row {
  const imago = median(imagoSamples);
  const peer = peerSamples.length ? median(peerSamples) : undefined;
  const ratio = peer ? imago / peer : undefined;
  let verdict: Verdict = "-";
  const judged = target?.of === "ratio" ? ratio : imago;
  if (target && judged !== undefined && Number.isFinite(judged)) {
    verdict = meets(judged, target) ? "PASS" : "MISS";
  }
  return {
    label,
    unit,
    imago,
    peer,
    ratio,
    target,
    verdict,
    samples: { imago: imagoSamples, peer: peerSamples },
  };
}

/** Alternates who goes first each round so drift on a shared machine hits both sides. */
export function roundOrder<T>(items: T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Reject on a non-zero exit (default true). */
  check?: boolean;
  /** Called once the child exists, e.g. to start watching its memory. */
  onSpawn?: (pid: number) => void;
}

/** Runs a command to completion and measures its wall-clock time from spawn to exit. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0], argv.slice(1), {
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => stdout = (stdout + d).slice(-65536));
    child.stderr.on("data", (d) => stderr = (stderr + d).slice(-65536));
    child.on("error", reject);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    child.on("close", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      const res = { code: code ?? 1, stdout, stderr, seconds };
      if (res.code !== 0 && opts.check !== false) {
        const tail = stderr.trim().split("\n").slice(-5).join(" | ");
        reject(new Error(`Command failed: "${argv.join(" ")}" exited with ${res.code}: ${tail}`));
      } else resolve(res);
    });
  });
}

/** Reads a file once so the measured run finds it in the page cache. */
export async function warm(path: string): Promise<void> {
  await run(["sh", "-c", 'cat "$1" > /dev/null', "sh", path]);
}

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

function versionOf(cmd: string): string {
  const r = spawnSync(cmd, ["--version"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : "";
}

/** A Node 26 executable: $IMAGO_NODE, `node` on PATH, or the repo's .tools copy. */
export function findNode26(root: string): string {
  const candidates = [
    process.env.IMAGO_NODE,
    "node",
    join(root, ".tools/node_modules/.bin/node"),
    "/opt/imago-tools/node_modules/.bin/node",
  ];
  for (const c of candidates) if (c && versionOf(c).startsWith("v26.")) return c;
  throw new Error(
    "Cannot find Node 26: put it on PATH or set IMAGO_NODE (source scripts/tools.sh)",
  );
}

/** Newest modification time of the .ts files under `dir`. */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith(".ts")) {
      newest = Math.max(newest, statSync(join(e.parentPath, e.name)).mtimeMs);
    }
  }
  return newest;
}

/** How imago is started for the import and rss sections, and a label saying which. */
export function imagoCommand(ctx: BenchContext): { argv: string[]; label: string } {
  if (ctx.imago && ctx.imago !== "source") {
    return { argv: [ctx.imago], label: `${ctx.imago} (--imago)` };
  }
  const bin = join(ctx.root, "dist/imago");
  if (existsSync(bin) && !ctx.imago) {
    const stale = statSync(bin).mtimeMs < newestMtime(join(ctx.root, "src"));
    const warning = stale ? "; OLDER than src/: rerun deno task compile or pass --source" : "";
    return { argv: [bin], label: `dist/imago (Node single-executable${warning})` };
  }
  const node = findNode26(ctx.root);
  const why = ctx.imago ? "--source" : "no dist/imago";
  return {
    argv: [node, join(ctx.root, "src/cli/main.ts")],
    label: `node src/cli/main.ts (${why})`,
  };
}

/**
 * Drops `path` from the page cache, as after a reboot. A binary written moments ago (deno task
 * compile) sits in the cache as large folios, and executing it maps them whole: its file-backed
 * RSS was ~30 MB higher than the same binary's read from disk. Peak-memory sections start cold.
 */
export async function coldFile(path: string): Promise<void> {
  await run(["sync", path]);
  await run(["dd", `if=${path}`, "iflag=nocache", "count=0", "status=none"]);
}

/** sha256 of a file by openssl, the reference every fingerprint is checked against. */
export async function opensslSha256(path: string): Promise<string> {
  const r = await run(["openssl", "dgst", "-sha256", "-r", path]);
  return r.stdout.split(" ")[0];
}
