/**
 * Peak memory while importing a large unified image: imago (the process and any helpers it
 * spawns) against LXD (daemon growth plus the lxc client). The target is on imago alone.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { imageFixture } from "./fixtures.ts";
import {
  type BenchContext,
  coldFile,
  imagoCommand,
  makeRow,
  type Row,
  type Section,
  type SectionResult,
  type Target,
  warm,
} from "./lib.ts";
import { type Lxd, startLxd } from "./lxd.ts";
import { memoryOf, resetPeak, runWithPeak, treeRss, watchTree } from "./proc.ts";

const TARGET: Target = { of: "imago", op: "<", value: 150, text: "< 150 MB" };
const MB = (kb: number) => (kb * 1024) / 1e6;

/** Peak kB of one imago import on a fresh store. */
async function imagoPeak(ctx: BenchContext, argv: string[], file: string): Promise<number> {
  const store = mkdtempSync(join(ctx.workDir, "store-"));
  try {
    await coldFile(argv[0]);
    const r = await runWithPeak([...argv, "import", file], join(ctx.workDir, ".time-imago"), {
      IMAGO_DIR: store,
    });
    return r.peakKb;
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

/** LXD's daemon growth over its resting RSS plus the lxc client's peak, in kB. */
async function lxdPeak(
  ctx: BenchContext,
  lxd: Lxd,
  f: { name: string; file: string; fp: string },
  notes: string[],
): Promise<number> {
  const { file, fp, name: label } = f;
  await lxd.forget(fp);
  const pid = lxd.pid!;
  const base = { tree: treeRss(pid), daemon: memoryOf(pid).rss };
  resetPeak(pid);
  const watch = watchTree(pid, true);
  const client = await runWithPeak(
    ["lxc", "image", "import", file],
    join(ctx.workDir, ".time"),
    lxd.env,
  );
  const tree = watch.stop();
  const growth = Math.max(tree.sumRss - base.tree, memoryOf(pid).hwm - base.daemon, 0);
  await lxd.lxc(["image", "delete", fp]);
  const mb = (kb: number) => MB(kb).toFixed(1);
  notes.push(
    `${label}: LXD daemon grew ${mb(growth)} MB over its resting ${mb(base.tree)} MB; ` +
      `lxc client peaked at ${mb(client.peakKb)} MB`,
  );
  return growth + client.peakKb;
}

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const mib = ctx.quick ? 128 : 2048;
  const fx = await imageFixture(ctx, mib);
  const imago = imagoCommand(ctx);
  const notes = [`imago ran as: ${imago.label}`];
  let lxd: Lxd | undefined;
  try {
    lxd = await startLxd(ctx);
    if (!lxd.pid) notes.push("LXD daemon pid not found: its memory is not reported");
  } catch (err) {
    notes.push(`LXD not measured: ${(err as Error).message}`);
  }
  const rows: Row[] = [];
  try {
    for (
      const f of [{ name: "xz", file: fx.xz, fp: fx.sha256.xz }, {
        name: "uncompressed",
        file: fx.tar,
        fp: fx.sha256.tar,
      }]
    ) {
      await warm(f.file);
      const mine = await imagoPeak(ctx, imago.argv, f.file)
        .catch((err) => Promise.reject(new Error(`${imago.label}: ${err.message}`)));
      ctx.log(`rss ${f.name}: imago ${MB(mine).toFixed(1)} MB`);
      const peer: number[] = [];
      if (lxd?.pid) {
        await warm(f.file);
        peer.push(await lxdPeak(ctx, lxd, f, notes));
        ctx.log(`rss ${f.name}: LXD ${MB(peer[0]).toFixed(1)} MB`);
      }
      rows.push(makeRow(`unified ${f.name}`, "MB", [MB(mine)], peer.map(MB), TARGET));
    }
  } finally {
    await lxd?.stop();
  }
  notes.push(
    "imago's executable is dropped from the page cache before each run (lib.ts coldFile)",
  );
  notes.push(
    "imago: max of ru_maxrss (/usr/bin/time) and the summed RSS of its process tree, sampled",
    "LXD: daemon tree RSS growth over its resting size plus the lxc client's peak (optional)",
    "one run per format: peak memory varies little between runs",
  );
  return {
    title: `peak memory importing a ${mib} MiB unified image`,
    peer: "LXD daemon growth + lxc",
    rows,
    notes,
  };
}

export const rss: Section = {
  name: "rss",
  describe: "peak RSS of imago import of a 2 GiB image (quick 128 MiB); LXD's growth for scale",
  run: run_,
};
