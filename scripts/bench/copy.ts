/**
 * Copy of a split image (metadata tar.xz + squashfs rootfs) from `imago serve` on loopback:
 * `imago copy b:ALIAS` into a fresh store vs the real `lxc image copy b:ALIAS local:` into the
 * bench's LXD daemon, the same image from the same server, in interleaved rounds; plus the peak
 * RSS of the imago client. curl fetching the same export once per round gives the floor.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { imageFixture } from "./fixtures.ts";
import {
  type BenchContext,
  ensureDir,
  imagoCommand,
  makeRow,
  median,
  roundOrder,
  run,
  type Section,
  type SectionResult,
  type Target,
  warm,
} from "./lib.ts";
import { type Lxd, startLxd } from "./lxd.ts";
import { type Memory, watchProcess } from "./proc.ts";
import { benchCertificate, type Served, startImagoServe } from "./servers.ts";

const TIME: Target = { of: "ratio", op: "<=", value: 0.5, text: "<= 0.50x LXD" };
const RSS: Target = { of: "imago", op: "<", value: 150, text: "< 150 MB" };
const ALIAS = "bench-copy";
/** The name both clients give the server; lxc's is removed again at the end. */
const REMOTE = "imago-bench-copy";
const MB = (kb: number) => (kb * 1024) / 1e6;

interface SplitFixture {
  mib: number;
  metadata: string;
  rootfs: string;
  fingerprint: string;
  bytes: number;
}

/**
 * The unified fixture of `mib` MiB cut into a split image, made once: metadata.yaml as
 * metadata.tar.xz, the rootfs as a squashfs whose data blocks stay uncompressed and undeduped
 * (-noD -noF -noX -no-duplicates), so the transfer is the full size of the tree.
 */
async function splitFixture(ctx: BenchContext, mib: number): Promise<SplitFixture> {
  const dir = ensureDir(join(ctx.workDir, `split-${mib}M`));
  const done = join(dir, "fixture.json");
  if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8"));
  const fx = await imageFixture(ctx, mib);
  ctx.log(`making the ${mib} MiB split image in ${dir} (once; not measured)`);
  const tree = join(dir, "tree");
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree);
  await run(["tar", "-xf", fx.tar, "-C", tree]);
  const metadata = join(dir, "metadata.tar.xz");
  const rootfs = join(dir, "rootfs.squashfs");
  await run([
    "tar",
    "--numeric-owner",
    "--owner=0",
    "--group=0",
    "-cJf",
    metadata,
    "-C",
    tree,
    "metadata.yaml",
  ]);
  await run(["mksquashfs", join(tree, "rootfs"), rootfs, "-noappend", "-quiet", "-all-root"]
    .concat(["-no-progress", "-noD", "-noF", "-noX", "-no-duplicates"]));
  rmSync(tree, { recursive: true, force: true });
  const sh = 'cat "$1" "$2" | openssl dgst -sha256 -r';
  const fingerprint = (await run(["sh", "-c", sh, "sh", metadata, rootfs])).stdout.split(" ")[0];
  const bytes = statSync(metadata).size + statSync(rootfs).size;
  const fixture: SplitFixture = { mib, metadata, rootfs, fingerprint, bytes };
  writeFileSync(done, JSON.stringify(fixture, null, 2) + "\n");
  return fixture;
}

/** `imago copy` into a fresh store and config home; seconds and peak memory of the copy alone. */
async function imagoCopy(
  ctx: BenchContext,
  argv: string[],
  url: string,
  fp: string,
): Promise<{ seconds: number; mem: Memory }> {
  const dir = mkdtempSync(join(ctx.workDir, "copy-client-"));
  try {
    const env = { XDG_CONFIG_HOME: join(dir, "config") };
    const store = join(dir, "store");
    const add = ["remote", "add", REMOTE, url, "--accept-certificate", "--public"];
    await run([...argv, "--store", store, ...add], { env });
    let watch: { stop(): Memory } | undefined;
    const r = await run([...argv, "--store", store, "copy", `${REMOTE}:${ALIAS}`], {
      env,
      onSpawn: (pid) => watch = watchProcess(pid),
    }).finally(() => watch?.stop());
    const mem = watch!.stop();
    if (!existsSync(join(store, "images", fp))) {
      throw new Error(`imago copy left no images/${fp.slice(0, 12)}… in its store`);
    }
    return { seconds: r.seconds, mem };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `lxc image copy` into the daemon, then the image is deleted again (which checks it came). */
async function lxdCopy(lxd: Lxd, fp: string): Promise<number> {
  const r = await lxd.lxc(["image", "copy", `${REMOTE}:${ALIAS}`, "local:"]);
  await lxd.lxc(["image", "delete", fp]);
  return r.seconds;
}

/** curl of the export to /dev/null: the transfer alone, no storing. */
async function curlFloor(url: string, fp: string, bytes: number): Promise<number> {
  const fmt = "%{http_code} %{size_download} %{time_total}";
  const r = await run([
    "curl",
    "-sk",
    "-o",
    "/dev/null",
    "-w",
    fmt,
    `${url}/1.0/images/${fp}/export`,
  ]);
  const [code, size, total] = r.stdout.split(" ");
  // The multipart framing adds a few hundred bytes to the two files.
  if (code !== "200" || Number(size) < bytes) {
    throw new Error(`curl got HTTP ${code} and ${size} bytes from imago serve`);
  }
  return Number(total);
}

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const fx = await splitFixture(ctx, ctx.quick ? 64 : 512);
  const fp = fx.fingerprint;
  const imago = imagoCommand(ctx);
  const notes = [`imago ran as: ${imago.label}`];
  const store = mkdtempSync(join(ctx.workDir, "copy-server-"));
  let served: Served | undefined;
  let lxd: Lxd | undefined;
  const secs = { imago: [] as number[], lxd: [] as number[], curl: [] as number[] };
  const peaks: Memory[] = [];
  try {
    await run([...imago.argv, "--store", store, "import", fx.metadata, fx.rootfs, "--public"]
      .concat(["--alias", ALIAS]));
    served = await startImagoServe(imago.argv, store, await benchCertificate(ctx));
    const url = served.url;
    lxd = await startLxd(ctx);
    await lxd.lxc(["remote", "remove", REMOTE], false);
    await lxd.lxc(["remote", "add", REMOTE, url, "--accept-certificate", "--public"]);
    await lxd.forget(fp);
    // One unmeasured pass warms the server's page cache for everyone.
    secs.curl.push(await curlFloor(url, fp, fx.bytes));
    const sides = [
      {
        key: "imago" as const,
        async go() {
          const r = await imagoCopy(ctx, imago.argv, url, fp)
            .catch((err) => Promise.reject(new Error(`${imago.label}: ${err.message}`)));
          peaks.push(r.mem);
          return r.seconds;
        },
      },
      { key: "lxd" as const, go: () => lxdCopy(lxd!, fp) },
      { key: "curl" as const, go: () => curlFloor(url, fp, fx.bytes) },
    ];
    secs.curl = [];
    for (let round = 0; round < ctx.rounds; round++) {
      for (const s of roundOrder(sides, round)) {
        await warm(imago.argv[0]); // as in import.ts: large transfers evict the executable
        const seconds = await s.go();
        secs[s.key].push(seconds);
        const extra = s.key === "imago" ? `, peak ${MB(peaks.at(-1)!.hwm).toFixed(1)} MB` : "";
        ctx.log(`copy round ${round + 1}: ${s.key} ${seconds.toFixed(2)} s${extra}`);
      }
    }
  } finally {
    await served?.stop().catch(() => {});
    if (lxd) {
      await lxd.forget(fp);
      await lxd.lxc(["remote", "remove", REMOTE], false);
      await lxd.stop();
    }
    rmSync(store, { recursive: true, force: true });
  }
  const mb = fx.bytes / 1e6;
  const mb1 = (kb: number) => MB(kb).toFixed(1);
  const top = peaks.reduce((a, b) => (b.rss > a.rss ? b : a));
  const rate = (s: number[]) => `${(mb / median(s)).toFixed(0)} MB/s`;
  notes.push(
    `image: ${fx.metadata} + ${fx.rootfs} (${mb.toFixed(0)} MB, squashfs data uncompressed)`,
    `rates: imago ${rate(secs.imago)}, LXD ${rate(secs.lxd)}; curl of the same export to ` +
      `/dev/null ${median(secs.curl).toFixed(2)} s (${rate(secs.curl)}), the transfer's floor`,
    "time: wall time of `imago copy` (fresh store) and of `lxc image copy` (image deleted " +
      "between rounds); remote add is not timed",
    `peak RSS: VmHWM of the imago copy process (polled from /proc every 10 ms); per round: ${
      peaks.map((p) => MB(p.hwm).toFixed(1)).join(", ")
    } MB; at the highest VmRSS seen, anonymous ${mb1(top.anon)} MB + file-backed ${
      mb1(top.file)
    } MB (the executable's own pages: a freshly built binary maps them in large folios, ` +
      "which can add ~30 MB until its page cache is rebuilt)",
    "the server is `imago serve` (TLS) on 127.0.0.1 for both; all share the machine's CPUs",
  );
  return {
    title: `copy of a ${mb.toFixed(0)} MB split image from imago serve, median of ` +
      `${ctx.rounds} rounds`,
    peer: "lxc image copy (LXD)",
    rows: [
      makeRow("copy time", "s", secs.imago, secs.lxd, TIME),
      makeRow(
        "peak RSS of imago copy, max of rounds",
        "MB",
        [
          Math.max(...peaks.map((p) => MB(p.hwm))),
        ],
        [],
        RSS,
      ),
    ],
    notes,
  };
}

export const copySection: Section = {
  name: "copy",
  describe: "imago copy vs lxc image copy of a split image from imago serve, + RSS (512 MiB)",
  run: run_,
};
