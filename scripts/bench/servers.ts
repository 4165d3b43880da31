/**
 * The HTTPS servers the serve sections compare: `imago serve` (the binary), nginx with a
 * minimal config, and the bench's LXD daemon with its HTTPS listener switched on. All listen on
 * 127.0.0.1; imago and nginx share one certificate made by openssl. Also: CPU time of a process
 * tree from /proc, and a loopback port nobody uses.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { type BenchContext, ensureDir, run } from "./lib.ts";
import type { Lxd } from "./lxd.ts";
import { descendants } from "./proc.ts";

/** A server under measurement: its base URL and the processes whose CPU time is its cost. */
export interface Served {
  name: string;
  url: string;
  pids(): number[];
  stop(): Promise<void>;
}

/** A loopback TCP port free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Seconds per clock tick of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
let tickSeconds: number | undefined;
async function tick(): Promise<number> {
  tickSeconds ??= 1 / (Number((await run(["getconf", "CLK_TCK"])).stdout.trim()) || 100);
  return tickSeconds;
}

/** utime + stime of each process (all its threads), summed, in seconds. */
export async function cpuSeconds(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    let stat = "";
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone
    }
    // The command name may hold spaces and parentheses: count fields after the last ")".
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * await tick();
}

/** An EC P-256 certificate for 127.0.0.1 and localhost, made once in the work folder. */
export async function benchCertificate(ctx: BenchContext): Promise<{ cert: string; key: string }> {
  const dir = ensureDir(join(ctx.workDir, "serve-tls"));
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  if (!existsSync(cert) || !existsSync(key)) {
    await run([
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "3650",
      "-subj",
      "/CN=imago-bench",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]);
  }
  return { cert, key };
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** `imago serve` on `store` over TLS with `tls`; resolves once it says where it listens. */
export function startImagoServe(
  argv: string[],
  store: string,
  tls: { cert: string; key: string },
): Promise<Served> {
  const args = [...argv.slice(1), "--store", store, "serve", "--listen", "127.0.0.1:0"];
  args.push("--tls-cert", tls.cert, "--tls-key", tls.key);
  const child = spawn(argv[0], args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  let listening = false;
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`imago serve exited with ${code}: ${log.trim().slice(-500)}`));
    child.once("exit", onExit);
    child.once("error", reject);
    child.stderr!.on("data", (d) => {
      // Keep only the head (the listening line) and drain the access log.
      if (log.length < 4096) log += d;
      const m = /Listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (!m || listening) return;
      listening = true;
      child.off("exit", onExit);
      resolve({
        name: "imago",
        url: m[1],
        pids: () => [child.pid!],
        async stop() {
          child.kill("SIGTERM");
          await waitExit(child, 15_000);
        },
      });
    });
  });
}

function nginxBinary(): string | undefined {
  for (const p of [process.env.IMAGO_BENCH_NGINX, "/usr/sbin/nginx", "/usr/bin/nginx"]) {
    if (p && existsSync(p)) return p;
  }
  return undefined;
}

/** Debian's nginx, installed through apt when missing and we are root. */
async function ensureNginx(ctx: BenchContext): Promise<string> {
  const found = nginxBinary();
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error("Cannot run nginx: not installed and not root");
  ctx.log("installing nginx from apt");
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await run(["apt-get", "install", "-y", "-qq", "nginx"], { env });
  return nginxBinary() ?? Promise.reject(new Error("Cannot run nginx: apt installed no binary"));
}

/**
 * nginx serving `file` at `urlPath` over TLS 1.3 only, sendfile on, one worker per CPU, no
 * access log. It runs in the foreground (daemon off), so the master is our child.
 */
export async function startNginx(
  ctx: BenchContext,
  file: string,
  urlPath: string,
  tls: { cert: string; key: string },
): Promise<Served> {
  const bin = await ensureNginx(ctx);
  const dir = ensureDir(join(ctx.workDir, "serve-nginx"));
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${tls.cert};
    ssl_certificate_key ${tls.key};
    ssl_protocols TLSv1.3;
    location = ${urlPath} {
      alias ${file};
      default_type application/octet-stream;
    }
  }
}
`,
  );
  const child = spawn(bin, [
    "-c",
    conf,
    "-p",
    dir,
    "-e",
    join(dir, "error.log"),
    "-g",
    "daemon off;",
  ], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d) => err = (err + d).slice(-2000));
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${err}`);
    const r = await run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", url], {
      check: false,
    });
    if (r.stdout === "404") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    name: "nginx",
    url,
    pids: () => [child.pid!, ...descendants(child.pid!)],
    async stop() {
      child.kill("SIGQUIT"); // graceful: workers finish, then the master exits
      await waitExit(child, 15_000);
    },
  };
}

/** Switches on the daemon's HTTPS listener on a free loopback port until `stop`. */
export async function lxdHttps(lxd: Lxd): Promise<Served> {
  if (!lxd.pid) throw new Error("Cannot measure LXD: its daemon pid was not found");
  const port = await freePort();
  await lxd.lxc(["config", "set", "core.https_address", `127.0.0.1:${port}`]);
  const url = `https://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const r = await run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", `${url}/1.0`], {
      check: false,
    });
    if (r.stdout === "200") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = lxd.pid;
  return {
    name: "LXD",
    url,
    pids: () => [pid, ...descendants(pid)],
    async stop() {
      await lxd.lxc(["config", "unset", "core.https_address"], false);
    },
  };
}
