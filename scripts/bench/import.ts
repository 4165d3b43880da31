/**
 * Import time: `imago import` vs the real `lxc image import` of the same unified image, as xz
 * and uncompressed. Each round gets a fresh imago store and deletes the image from LXD.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
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
  warm,
} from "./lib.ts";
import { startLxd } from "./lxd.ts";

const TARGET: Target = { of: "ratio", op: "<=", value: 1 / 3, text: "<= 0.33x LXD" };

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const mib = ctx.quick ? 64 : 512;
  const fx = await imageFixture(ctx, mib);
  const imago = imagoCommand(ctx);
  const lxd = await startLxd(ctx);
  const notes = [`imago ran as: ${imago.label}`];
  const rows: Row[] = [];
  try {
    const formats = [
      { name: "xz", file: fx.xz, fp: fx.sha256.xz, bytes: fx.bytes.xz },
      { name: "uncompressed", file: fx.tar, fp: fx.sha256.tar, bytes: fx.bytes.tar },
    ];
    for (const f of formats) {
      await lxd.forget(f.fp); // leftovers of an interrupted run
      const secs = {
        imago: [] as number[],
        quick: [] as number[],
        lxd: [] as number[],
        openssl: [] as number[],
        unxz: [] as number[],
      };
      /** One `imago import` into a fresh store, with `extra` arguments. */
      const imagoImport = async (extra: string[]) => {
        const store = mkdtempSync(join(ctx.workDir, "store-"));
        try {
          const r = await run([...imago.argv, "import", f.file, ...extra], {
            env: { IMAGO_DIR: store },
          }).catch((err) => Promise.reject(new Error(`${imago.label}: ${err.message}`)));
          if (!existsSync(join(store, "images", f.fp))) {
            notes.push(`${f.name}: imago's store has no images/${f.fp.slice(0, 12)}…`);
          }
          return r.seconds;
        } finally {
          rmSync(store, { recursive: true, force: true });
        }
      };
      const sides = [
        { key: "imago" as const, go: () => imagoImport([]) },
        { key: "quick" as const, go: () => imagoImport(["--check", "metadata"]) },
        {
          key: "lxd" as const,
          async go() {
            const r = await lxd.lxc(["image", "import", f.file]);
            if (!r.stdout.includes(f.fp)) notes.push(`${f.name}: LXD said ${r.stdout.trim()}`);
            await lxd.lxc(["image", "delete", f.fp]);
            return r.seconds;
          },
        },
      ];
      for (let round = 0; round < ctx.rounds; round++) {
        // The floor: hashing the file alone, which any import must do, by openssl.
        await warm(f.file);
        secs.openssl.push((await run(["openssl", "dgst", "-sha256", f.file])).seconds);
        // And decompressing it, which checking every entry needs (xz as imago runs it).
        if (f.name === "xz") {
          secs.unxz.push((await run(["sh", "-c", 'xz -dc -T0 "$0" >/dev/null', f.file])).seconds);
        }
        for (const s of roundOrder(sides, round)) {
          await warm(f.file);
          // The large imports evict imago's 150 MB executable; reading it back from disk
          // cost ~0.7 s a run. A tool in use, like LXD's resident daemon, is in memory.
          await warm(imago.argv[0]);
          const seconds = await s.go();
          secs[s.key].push(seconds);
          ctx.log(`import ${f.name} round ${round + 1}: ${s.key} ${seconds.toFixed(2)} s`);
        }
      }
      const label = `unified ${f.name} (${(f.bytes / (1 << 20)).toFixed(0)} MiB file)`;
      rows.push(makeRow(label, "s", secs.imago, secs.lxd, TARGET));
      rows.push(makeRow(`${label}, --check metadata`, "s", secs.quick, secs.lxd, TARGET));
      const floor = median(secs.openssl);
      notes.push(
        `${f.name}: openssl dgst -sha256 of the file alone takes ${floor.toFixed(2)} s = ` +
          `${(floor / median(secs.lxd)).toFixed(2)}x LXD's import (the hash every import needs)`,
      );
      if (secs.unxz.length) {
        const unxz = median(secs.unxz);
        notes.push(
          `xz: xz -dc -T0 alone takes ${unxz.toFixed(2)} s = ${
            (unxz / median(secs.lxd)).toFixed(2)
          }x LXD's import (imago checks every tar entry at import; LXD stops after metadata.yaml)`,
        );
      }
    }
  } finally {
    await lxd.stop();
  }
  notes.push(`image: ${fx.tar}[.xz], ${mib} MiB uncompressed (usr copies + random blocks)`);
  notes.push(
    "wall time of the whole command; a fresh imago store and an LXD image delete per round",
  );
  notes.push("the input file and imago's executable are read into the page cache before each run");
  notes.push(
    "imago checks every tar entry by default; --check metadata reads only up to metadata.yaml " +
      "and the image type, as LXD does",
  );
  return {
    title: `unified ${mib} MiB image, median of ${ctx.rounds} rounds`,
    peer: "lxc image import (LXD)",
    rows,
    notes,
  };
}

export const importSection: Section = {
  name: "import",
  describe: "imago import vs lxc image import, unified xz and uncompressed (512 MiB, quick 64 MiB)",
  run: run_,
};
