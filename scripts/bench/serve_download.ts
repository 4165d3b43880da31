/**
 * Download throughput of `GET /1.0/images/<fp>/export` for one unified image at 1, 4 and 16
 * concurrent curl clients (TLS 1.3), from `imago serve`, nginx serving the same bytes, and the
 * real LXD daemon; plus server CPU-seconds per GB, time to first byte and imago's peak RSS.
 * Servers take turns within each round; the tables show medians over rounds.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { imageFixture } from "./fixtures.ts";
import {
  type BenchContext,
  imagoCommand,
  makeRow,
  median,
  roundOrder,
  type Row,
  run,
  type Section,
  type SectionResult,
  type Target,
} from "./lib.ts";
import { type Lxd, startLxd } from "./lxd.ts";
import { memoryOf, resetPeak, watchTree } from "./proc.ts";
import {
  benchCertificate,
  cpuSeconds,
  lxdHttps,
  type Served,
  startImagoServe,
  startNginx,
} from "./servers.ts";

const CONCURRENCY = [1, 4, 16];
/** What Go clients (lxc, LXD) negotiate on AES hardware; pinned so all servers do equal work. */
const CIPHER = "TLS_AES_128_GCM_SHA256";
const TTFB_PER_ROUND = 5;
const VS_NGINX: Target = { of: "ratio", op: ">=", value: 0.9, text: ">= 0.90x nginx" };
const LE_LXD: Target = { of: "ratio", op: "<=", value: 1, text: "<= 1.00x LXD" };
const RSS: Target = { of: "imago", op: "<", value: 200, text: "< 200 MB" };

function curl(url: string, extra: string[] = []): string[] {
  const fmt = "%{http_code} %{size_download} %{time_total} %{time_starttransfer}";
  return ["curl", "-sk", "--tlsv1.3", "--tls13-ciphers", CIPHER, ...extra, "-o", "/dev/null"]
    .concat(["-w", fmt, url]);
}

/** `n` clients download `url` at once; seconds from the first start to the last byte. */
async function download(s: Served, path: string, n: number, size: number): Promise<number> {
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: n }, () => run(curl(s.url + path), { check: false })),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const r of all) {
    const [code, got] = r.stdout.split(" ");
    if (r.code !== 0 || code !== "200" || Number(got) !== size) {
      throw new Error(
        `Cannot download from ${s.name}: curl exited ${r.code}, HTTP ${code}, ${got} of ` +
          `${size} bytes`,
      );
    }
  }
  return seconds;
}

/** Time to the first response byte; curl hangs up once it sees the headers (exit 63). */
async function firstByte(s: Served, path: string): Promise<number> {
  const r = await run(curl(s.url + path, ["--max-filesize", "1"]), { check: false });
  const [code, , , start] = r.stdout.split(" ");
  if (code !== "200") throw new Error(`Cannot reach ${s.name}: HTTP ${code}, curl ${r.code}`);
  return Number(start);
}

/** Downloads once through sha256: the server sends the right bytes, and its cache is warm. */
async function verify(s: Served, path: string, fp: string): Promise<void> {
  const sh = `curl -sk --tlsv1.3 --tls13-ciphers ${CIPHER} "$0" | openssl dgst -sha256 -r`;
  const got = (await run(["sh", "-c", sh, s.url + path])).stdout;
  if (!got.startsWith(fp)) throw new Error(`Cannot verify ${s.name}: it sent sha256 ${got}`);
}

interface Tally {
  gbps: Record<number, number[]>;
  /** CPU-seconds per GB, one value per round over all its downloads. */
  cpuPerGb: number[];
  ttfbMs: number[];
  /** Peak MB during the 16-client runs (largest over rounds). */
  peakMb: number;
}

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const mib = ctx.quick ? 128 : 1024;
  const fx = await imageFixture(ctx, mib);
  const fp = fx.sha256.tar;
  const size = fx.bytes.tar;
  const path = `/1.0/images/${fp}/export`;
  const imago = imagoCommand(ctx);
  const tls = await benchCertificate(ctx);
  const notes = [`imago ran as: ${imago.label}`];
  const store = mkdtempSync(join(ctx.workDir, "serve-store-"));
  const servers: Served[] = [];
  let lxd: Lxd | undefined;
  try {
    ctx.log(`serve-download: importing the ${mib} MiB image into imago and LXD`);
    await run([...imago.argv, "--store", store, "import", fx.tar, "--public"]);
    servers.push(await startImagoServe(imago.argv, store, tls));
    servers.push(await startNginx(ctx, fx.tar, path, tls));
    lxd = await startLxd(ctx);
    await lxd.forget(fp);
    await lxd.lxc(["image", "import", fx.tar, "--public"]);
    servers.push(await lxdHttps(lxd));
    for (const s of servers) await verify(s, path, fp);
    const resting = (memoryOf(servers[0].pids()[0]).rss * 1024) / 1e6;
    notes.push(`imago's RSS at rest ${resting.toFixed(1)} MB (much of it the mapped binary)`);

    const tally = new Map<string, Tally>();
    for (const s of servers) {
      tally.set(s.name, { gbps: { 1: [], 4: [], 16: [] }, cpuPerGb: [], ttfbMs: [], peakMb: 0 });
    }
    for (let round = 0; round < ctx.rounds; round++) {
      const cost = new Map(servers.map((s) => [s.name, { cpu: 0, gb: 0 }]));
      for (const n of CONCURRENCY) {
        for (const s of roundOrder(servers, round)) {
          const t = tally.get(s.name)!;
          const root = s.pids()[0];
          if (n === 16) resetPeak(root);
          const watch = n === 16 ? watchTree(root, true) : undefined;
          const cpu0 = await cpuSeconds(s.pids());
          const seconds = await download(s, path, n, size);
          const cpu = await cpuSeconds(s.pids()) - cpu0;
          if (watch) {
            const peakKb = Math.max(
              watch.stop().sumRss,
              s.name === "nginx" ? 0 : memoryOf(root).hwm,
            );
            t.peakMb = Math.max(t.peakMb, (peakKb * 1024) / 1e6);
          }
          const gb = (n * size) / 1e9;
          t.gbps[n].push(gb / seconds);
          const c = cost.get(s.name)!;
          c.cpu += cpu;
          c.gb += gb;
          ctx.log(
            `serve-download round ${round + 1}, ${n} client(s): ${s.name} ` +
              `${(gb / seconds).toFixed(2)} GB/s, ${(cpu / gb).toFixed(2)} CPU-s/GB`,
          );
        }
      }
      for (const [name, c] of cost) tally.get(name)!.cpuPerGb.push(c.cpu / c.gb);
      for (let k = 0; k < TTFB_PER_ROUND; k++) {
        for (const s of roundOrder(servers, round + k)) {
          tally.get(s.name)!.ttfbMs.push((await firstByte(s, path)) * 1000);
        }
      }
    }
    return report(ctx, tally, { mib, size, notes });
  } finally {
    for (const s of servers) await s.stop().catch(() => {});
    if (lxd) {
      await lxd.forget(fp);
      await lxd.stop();
    }
    rmSync(store, { recursive: true, force: true });
  }
}

function report(
  ctx: BenchContext,
  tally: Map<string, Tally>,
  info: { mib: number; size: number; notes: string[] },
): SectionResult {
  const me = tally.get("imago")!;
  const ng = tally.get("nginx")!;
  const lx = tally.get("LXD")!;
  const rows: Row[] = [];
  for (const n of CONCURRENCY) {
    rows.push(makeRow(`${n} client(s), vs nginx`, "GB/s", me.gbps[n], ng.gbps[n], VS_NGINX));
    rows.push(makeRow(`${n} client(s), vs LXD`, "GB/s", me.gbps[n], lx.gbps[n]));
  }
  rows.push(makeRow("server CPU per GB, vs LXD", "s", me.cpuPerGb, lx.cpuPerGb, LE_LXD));
  rows.push(makeRow("server CPU per GB, vs nginx", "s", me.cpuPerGb, ng.cpuPerGb));
  rows.push(makeRow("time to first byte, vs LXD", "ms", me.ttfbMs, lx.ttfbMs, LE_LXD));
  rows.push(makeRow("time to first byte, vs nginx", "ms", me.ttfbMs, ng.ttfbMs));
  rows.push(makeRow("peak RSS, 16 clients, LXD's for scale", "MB", [me.peakMb], [lx.peakMb], RSS));
  const mb = (v: number) => `${v.toFixed(1)} MB`;
  const matrix = [...tally].map(([name, t]) =>
    `${name}: ${CONCURRENCY.map((n) => `${median(t.gbps[n]).toFixed(2)}`).join(" / ")} GB/s, ` +
    `${median(t.cpuPerGb).toFixed(2)} CPU-s/GB, TTFB ${median(t.ttfbMs).toFixed(1)} ms, ` +
    `peak ${mb(t.peakMb)}`
  );
  return {
    title: `GET /1.0/images/<fp>/export of a ${info.mib} MiB unified image, ` +
      `1/4/16 curl clients, median of ${ctx.rounds} rounds`,
    peer: "nginx or LXD (per row)",
    rows,
    notes: [
      ...info.notes,
      ...matrix,
      `file ${(info.size / 1e6).toFixed(0)} MB; TLS 1.3 ${CIPHER} for all; curl -o /dev/null ` +
      "clients share the 2 CPUs with the server",
      "GB/s = clients x size / wall time from the first curl start to the last exit",
      "CPU: utime+stime from /proc of imago's process, nginx's master+workers, the lxd daemon",
      `TTFB: curl time_starttransfer of ${TTFB_PER_ROUND} single requests per round ` +
      "(fresh TLS connection each)",
      "peak RSS: imago's VmHWM (reset before each 16-client run); LXD: the daemon's; nginx: " +
      "its processes' summed RSS, sampled",
      "nginx: stock Debian build, sendfile on (no kTLS), same certificate as imago; LXD uses " +
      "its own server.crt",
    ],
  };
}

export const serveDownload: Section = {
  name: "serve-download",
  describe:
    "imago serve vs nginx vs LXD: export GB/s at 1/4/16 clients, CPU/GB, TTFB, RSS (1 GiB, quick 128 MiB)",
  run: run_,
};
