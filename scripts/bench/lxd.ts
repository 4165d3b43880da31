/**
 * The real LXD the import sections compare against: a private daemon under /tmp started by
 * scripts/lxd.sh (or directly when that script is absent), stopped again only if we started it.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { type BenchContext, ensureDir, run, type RunResult } from "./lib.ts";
import { comm, descendants } from "./proc.ts";

export interface Lxd {
  env: Record<string, string>;
  /** The daemon's pid, when it could be found (for memory readings). */
  pid?: number;
  lxc(args: string[], check?: boolean): Promise<RunResult>;
  /** Deletes the image if present; errors are ignored. */
  forget(fingerprint: string): Promise<void>;
  stop(): Promise<void>;
}

function pidFrom(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  if (!pid || !existsSync(`/proc/${pid}`)) return undefined;
  // setsid may have forked: then the daemon is its child.
  if (comm(pid) === "lxd") return pid;
  return descendants(pid).find((p) => comm(p) === "lxd");
}

function parseExports(out: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]] = m[2].replace(/^"|"$/g, "");
  return env;
}

/** Starts (or reuses) the bench's LXD daemon in $IMAGO_BENCH_LXD_DIR, else /tmp/imago-bench-lxd. */
export async function startLxd(ctx: BenchContext): Promise<Lxd> {
  const base = process.env.IMAGO_BENCH_LXD_DIR ?? "/tmp/imago-bench-lxd";
  const script = join(ctx.root, "scripts/lxd.sh");
  let env: Record<string, string>;
  let pidFile: string;
  let stop: () => Promise<void>;
  if (existsSync(script)) {
    pidFile = join(base, "lxd.pid");
    const wasRunning = pidFrom(pidFile) !== undefined;
    ctx.log(`starting LXD with scripts/lxd.sh in ${base}`);
    const r = await run(["bash", script, "start"], { env: { IMAGO_LXD_DIR: base } });
    env = parseExports(r.stdout);
    stop = async () => {
      if (!wasRunning) await run(["bash", script, "stop"], { env: { IMAGO_LXD_DIR: base } });
    };
  } else {
    env = { LXD_DIR: ensureDir(join(base, "daemon")), LXD_CONF: ensureDir(join(base, "client")) };
    pidFile = join(base, "lxd.pid");
    ctx.log(`scripts/lxd.sh is absent: starting lxd --group root with LXD_DIR=${env.LXD_DIR}`);
    const daemon = `setsid lxd --group root --logfile "${base}/lxd.log" </dev/null >/dev/null 2>&1`;
    await run(["sh", "-c", `${daemon} & echo $! > "${pidFile}"`], { env });
    await run(["lxd", "waitready", "--timeout", "60"], { env });
    stop = async () => {
      await run(["lxd", "shutdown", "--timeout", "50"], { env, check: false });
    };
  }
  const lxc = (args: string[], check = true) => run(["lxc", ...args], { env, check });
  return {
    env,
    pid: pidFrom(pidFile),
    lxc,
    async forget(fingerprint) {
      await lxc(["image", "delete", fingerprint], false);
    },
    stop,
  };
}
