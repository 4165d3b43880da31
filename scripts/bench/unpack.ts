/**
 * Unpack time: `imago unpack` of a unified image vs GNU `tar -xf` of the same file, as xz and
 * uncompressed. The image is imported into a fresh store once (not measured); each round writes
 * into a new folder, which is removed afterwards, and dirty pages are flushed before every run so
 * neither side pays for the other's writeback.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { imageFixture } from "./fixtures.ts";
import {
  type BenchContext,
  imagoCommand,
  makeRow,
  roundOrder,
  type Row,
  run,
  type Section,
  type SectionResult,
  type Target,
  warm,
} from "./lib.ts";

const TARGET: Target = { of: "ratio", op: "<=", value: 1.2, text: "<= 1.2x tar -xf" };

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const mib = ctx.quick ? 64 : 512;
  const fx = await imageFixture(ctx, mib);
  const imago = imagoCommand(ctx);
  const store = mkdtempSync(join(ctx.workDir, "unpack-store-"));
  const env = { IMAGO_DIR: store };
  const notes = [`imago ran as: ${imago.label}`];
  const rows: Row[] = [];
  let n = 0;
  const fresh = () => join(ctx.workDir, `unpack-out-${process.pid}-${n++}`);
  try {
    const formats = [
      { name: "xz", file: fx.xz, fp: fx.sha256.xz, bytes: fx.bytes.xz },
      { name: "uncompressed", file: fx.tar, fp: fx.sha256.tar, bytes: fx.bytes.tar },
    ];
    for (const f of formats) {
      await run([...imago.argv, "import", f.file], { env });
      const stored = join(store, "images", f.fp);
      const secs = { imago: [] as number[], tar: [] as number[] };
      const sides = [
        {
          key: "imago" as const,
          file: stored,
          async go(out: string) {
            return (await run([...imago.argv, "-q", "unpack", f.fp, out], { env })).seconds;
          },
        },
        {
          key: "tar" as const,
          file: f.file,
          async go(out: string) {
            mkdirSync(out);
            return (await run(["tar", "-xf", f.file, "-C", out])).seconds;
          },
        },
      ];
      for (let round = 0; round < ctx.rounds; round++) {
        for (const s of roundOrder(sides, round)) {
          const out = fresh();
          await warm(s.file);
          await run(["sync"]);
          try {
            const seconds = await s.go(out);
            secs[s.key].push(seconds);
            ctx.log(`unpack ${f.name} round ${round + 1}: ${s.key} ${seconds.toFixed(2)} s`);
          } finally {
            rmSync(out, { recursive: true, force: true });
          }
        }
      }
      const label = `unified ${f.name} (${(f.bytes / (1 << 20)).toFixed(0)} MiB file)`;
      rows.push(makeRow(label, "s", secs.imago, secs.tar, TARGET));
    }
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
  notes.push(`image: ${fx.tar}[.xz], ${mib} MiB uncompressed (usr copies + random blocks)`);
  notes.push(
    "wall time of the whole command; imago checks every entry, keeps xattrs/ACLs and renders " +
      "templates; tar -xf extracts the whole file (rootfs and metadata.yaml)",
  );
  return {
    title: `unified ${mib} MiB image, median of ${ctx.rounds} rounds`,
    peer: "tar -xf (GNU tar)",
    rows,
    notes,
  };
}

export const unpackSection: Section = {
  name: "unpack",
  describe: "imago unpack vs tar -xf of the same image, xz and uncompressed (512 MiB, quick 64)",
  run: run_,
};
