/**
 * Listing latency: p50 of `GET /1.0/images?recursion=1` (untrusted, public images) from
 * `imago serve` with 10 000 images in its store, and from the real LXD daemon with as many
 * images as it imports within a time budget; imago is also timed at LXD's count, and both per
 * image. Requests go over one kept-alive TLS connection, so the handshake is not counted.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { EPOCH, type ImageRecord, NEVER_USED } from "../../src/core/model.ts";
import { openDatabase, Records, writeTransaction } from "../../src/core/records.ts";
import {
  type BenchContext,
  imagoCommand,
  makeRow,
  median,
  run,
  type Section,
  type SectionResult,
  type Target,
} from "./lib.ts";
import { startLxd } from "./lxd.ts";
import { benchCertificate, lxdHttps, type Served, startImagoServe } from "./servers.ts";

const TARGET: Target = { of: "imago", op: "<", value: 100, text: "< 100 ms" };
const LIST = "/1.0/images?recursion=1";
const ARCH = { lxd: "x86_64", deb: "amd64" };

/** Properties like those of a real distribution image; `i` makes every image distinct. */
function properties(i: number): Record<string, string> {
  const release = `r${i % 40}`;
  const serial = `20260101_${String(i).padStart(5, "0")}`;
  return {
    architecture: ARCH.deb,
    description: `Benchlinux ${release} ${ARCH.deb} (${serial})`,
    os: "benchlinux",
    release,
    serial,
    type: "squashfs",
    variant: i % 2 ? "cloud" : "default",
  };
}

/** A store of `n` public unified images (tiny files, one alias each) written straight to SQLite. */
function makeImagoStore(ctx: BenchContext, n: number): string {
  const dir = mkdtempSync(join(ctx.workDir, "serve-list-"));
  const images = join(dir, "images");
  mkdirSync(images);
  const db = openDatabase(join(dir, "imago.db"));
  const records = new Records(db);
  const now = new Date().toISOString();
  writeTransaction(db, () => {
    for (let i = 0; i < n; i++) {
      const bytes = new TextEncoder().encode(`imago bench list image ${i}\n`);
      const fingerprint = createHash("sha256").update(bytes).digest("hex");
      writeFileSync(join(images, fingerprint), bytes);
      const rec: ImageRecord = {
        fingerprint,
        filename: `bench-${i}.tar.xz`,
        type: "container",
        architecture: ARCH.lxd,
        size: bytes.length,
        public: true,
        auto_update: false,
        cached: false,
        properties: properties(i),
        aliases: [],
        profiles: ["default"],
        created_at: "2026-01-01T00:00:00Z",
        uploaded_at: now,
        expires_at: EPOCH,
        last_used_at: NEVER_USED,
        files: { metadata_ext: ".tar.xz", metadata_size: bytes.length },
      };
      records.insert(rec);
      records.putAlias(`bench/${i}`, fingerprint, "");
    }
  });
  db.close();
  return dir;
}

/** A ustar header block for `name` (a file of `size` bytes, or a folder). */
function tarHeader(name: string, size: number, dir: boolean): Uint8Array {
  const h = new Uint8Array(512);
  const put = (off: number, s: string) => h.set(new TextEncoder().encode(s), off);
  const oct = (off: number, len: number, v: number) =>
    put(off, v.toString(8).padStart(len - 1, "0") + "\0");
  put(0, name);
  oct(100, 8, dir ? 0o755 : 0o644);
  oct(108, 8, 0);
  oct(116, 8, 0);
  oct(124, 12, size);
  oct(136, 12, 1767225600);
  put(148, "        ");
  put(156, dir ? "5" : "0");
  put(257, "ustar\u000000");
  oct(148, 7, h.reduce((a, b) => a + b, 0));
  return h;
}

/** A unified image of metadata.yaml and an empty rootfs/, as a plain tar. */
function tinyImage(i: number): Uint8Array {
  const props = Object.entries(properties(i)).map(([k, v]) => `  ${k}: "${v}"\n`).join("");
  const meta = new TextEncoder().encode(
    `architecture: ${ARCH.lxd}\ncreation_date: 1767225600\nproperties:\n${props}`,
  );
  const pad = (n: number) => new Uint8Array((512 - (n % 512)) % 512);
  const parts = [tarHeader("metadata.yaml", meta.length, false), meta, pad(meta.length)];
  parts.push(tarHeader("rootfs/", 0, true), new Uint8Array(1024));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

/** One request to the daemon's unix socket; the parsed JSON answer. */
async function lxdApi(socket: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await run(["curl", "-s", "--max-time", "120", "--unix-socket", socket, ...args]);
  return JSON.parse(r.stdout);
}

/**
 * Imports tiny public images into LXD, four at a time, until `max` or `seconds` run out,
 * pushing each fingerprint to `fps` as it lands. Straight to the REST API: `lxc image import`
 * sometimes misses the end of a quick operation and waits forever.
 */
async function fillLxd(
  ctx: BenchContext,
  socket: string,
  limits: { max: number; seconds: number },
  fps: string[],
): Promise<void> {
  const dir = mkdtempSync(join(ctx.workDir, "serve-list-lxd-"));
  const deadline = performance.now() + limits.seconds * 1000;
  let next = 0;
  const worker = async () => {
    while (next < limits.max && performance.now() < deadline) {
      const i = next++;
      const file = join(dir, `tiny-${i}.tar`);
      const bytes = tinyImage(i);
      writeFileSync(file, bytes);
      const fp = createHash("sha256").update(bytes).digest("hex");
      await deleteAll(socket, [fp]); // a leftover of an interrupted run
      const op = await lxdApi(socket, [
        ...["-X", "POST", "-H", "Content-Type: application/octet-stream"],
        ...["-H", "X-LXD-public: 1", "--data-binary", `@${file}`, "http://lxd/1.0/images"],
      ]);
      const done = await lxdApi(socket, [`http://lxd${op.operation}/wait?timeout=60`]);
      const status = (done.metadata as { status?: string } | undefined)?.status;
      if (status !== "Success") throw new Error(`Cannot import into LXD: ${JSON.stringify(done)}`);
      fps.push(fp);
      const alias = JSON.stringify({ name: `bench/${i}`, target: fp });
      await lxdApi(socket, ["-X", "POST", "-d", alias, "http://lxd/1.0/images/aliases"]);
      rmSync(file);
    }
  };
  try {
    await Promise.all([worker(), worker(), worker(), worker()]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Deletes images from LXD, four at a time, waiting for each operation. */
async function deleteAll(socket: string, fps: string[]): Promise<void> {
  const queue = [...fps];
  const worker = async () => {
    for (let fp = queue.pop(); fp; fp = queue.pop()) {
      const op = await lxdApi(socket, ["-X", "DELETE", `http://lxd/1.0/images/${fp}`]);
      if (op.operation) await lxdApi(socket, [`http://lxd${op.operation}/wait?timeout=60`]);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

/**
 * Milliseconds per listing over one kept-alive connection, and how many images it held. Each
 * time counts from the request going out (curl's time_pretransfer) to the last byte, so a TLS
 * handshake on a fresh connection is never included.
 */
async function latencies(s: Served, requests: number): Promise<{ ms: number[]; count: number }> {
  const fmt = "%{http_code} %{time_pretransfer} %{time_total}\\n";
  const args = ["curl", "-sk", "--tlsv1.3", "-w", fmt];
  for (let i = 0; i < requests; i++) args.push(s.url + LIST, "-o", "/dev/null");
  const out = (await run(args)).stdout.trim().split("\n").map((l) => l.split(" "));
  if (out.some(([code]) => code !== "200")) throw new Error(`Cannot list on ${s.name}: ${out}`);
  // run() keeps only the tail of stdout: the body goes through a file.
  const file = join(tmpdir(), `imago-bench-list-${process.pid}.json`);
  await run(["curl", "-sk", "--tlsv1.3", "-o", file, s.url + LIST]);
  const count = (JSON.parse(readFileSync(file, "utf8")).metadata as unknown[]).length;
  rmSync(file);
  return { ms: out.map(([, pre, total]) => (Number(total) - Number(pre)) * 1000), count };
}

interface ImagoTimes {
  /** The first listing after start. */
  first: number;
  /** Repeated listings: the serialised answer is cached until the store changes. */
  warm: number[];
  /** Listings each right after a write to the store, so nothing is cached. */
  cold: number[];
}

async function measureImago(ctx: BenchContext, n: number, requests: number): Promise<ImagoTimes> {
  const imago = imagoCommand(ctx);
  const store = makeImagoStore(ctx, n);
  const server = await startImagoServe(imago.argv, store, await benchCertificate(ctx));
  const db = openDatabase(join(store, "imago.db"));
  try {
    const first = await latencies(server, 1);
    if (first.count !== n) throw new Error(`Cannot list on imago: ${first.count} images, not ${n}`);
    const warm = await latencies(server, requests);
    const cold: number[] = [];
    for (let i = 0; i < Math.min(requests, 11); i++) {
      new Records(db).setConfig("bench.touch", String(i)); // a commit the server must notice
      cold.push(...(await latencies(server, 1)).ms);
    }
    return { first: first.ms[0], warm: warm.ms, cold };
  } finally {
    db.close();
    await server.stop();
    rmSync(store, { recursive: true, force: true });
  }
}

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const big = 10_000;
  const requests = ctx.quick ? 11 : 31;
  const imago = imagoCommand(ctx);
  const notes = [`imago ran as: ${imago.label}`];
  ctx.log(`serve-list: imago with ${big} images`);
  const mine = await measureImago(ctx, big, requests);
  const rows = [
    makeRow(`p50, ${big} images, answer cached`, "ms", mine.warm, [], TARGET),
    makeRow(`p50, ${big} images, store just changed`, "ms", mine.cold, [], TARGET),
    makeRow(`first request after start, ${big} images`, "ms", [mine.first], []),
  ];

  const lxd = await startLxd(ctx);
  const fps: string[] = [];
  let https: Served | undefined;
  try {
    const [max, budget] = ctx.quick ? [200, 30] : [3000, 180];
    ctx.log(`serve-list: importing up to ${max} tiny images into LXD (${budget} s budget)`);
    const t0 = performance.now();
    await fillLxd(ctx, join(lxd.env.LXD_DIR, "unix.socket"), { max, seconds: budget }, fps);
    const n = fps.length;
    notes.push(
      `LXD imported ${n} tiny images in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    https = await lxdHttps(lxd);
    const lxdList = await latencies(https, ctx.quick ? 5 : 11);
    const [theirs, total] = [lxdList.ms, lxdList.count];
    ctx.log(`serve-list: imago with LXD's ${total} images`);
    const same = await measureImago(ctx, total, requests);
    // LXD caches nothing, so imago's uncached times are the fair comparison.
    rows.push(makeRow(`p50, ${total} images each, imago uncached`, "ms", same.cold, theirs));
    rows.push(makeRow(`p50, ${total} images each, imago cached`, "ms", same.warm, theirs));
    const per = (ms: number[], count: number) => ms.map((m) => (m * 1000) / count);
    rows.push(
      makeRow(
        `per image uncached, imago at ${big} vs LXD at ${total}`,
        "us",
        per(mine.cold, big),
        per(theirs, total),
      ),
    );
    if (total > n) notes.push(`LXD held ${total - n} other public images too; all are listed`);
    if (total < n) notes.push(`LXD's list held only ${total} of the ${n} images it imported`);
    notes.push(`LXD p50 ${median(theirs).toFixed(1)} ms for ${total} images (issue: ~550 ms/551)`);
  } finally {
    await https?.stop();
    ctx.log(`serve-list: deleting ${fps.length} images from LXD`);
    await deleteAll(join(lxd.env.LXD_DIR, "unix.socket"), fps);
    await lxd.stop();
  }
  notes.push(
    "untrusted GET over TLS 1.3; time from sending the request to the last byte (curl " +
      "time_total - time_pretransfer), so no TLS handshake is counted",
    "uncached: a commit to the store from another connection before each request drops " +
      "imago's serialised answer, as an import or edit does",
    "imago records: 7 properties and one alias each, written straight to SQLite (tiny files)",
    "LXD images: tiny unified tars with the same properties and one alias each, public",
  );
  return {
    title: `GET ${LIST}, p50 of ${requests} requests (LXD: fewer)`,
    peer: "LXD daemon",
    rows,
    notes,
  };
}

export const serveList: Section = {
  name: "serve-list",
  describe: "p50 of GET /1.0/images?recursion=1 with 10 000 images; LXD with what it imports",
  run: run_,
};
