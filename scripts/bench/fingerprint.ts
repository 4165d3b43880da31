/**
 * Fingerprint throughput: imago's fingerprintFiles (in this process, and in a Node 26 child as
 * dist/imago would run it) against `openssl dgst -sha256` on the same file, page cache warm.
 */
import { join } from "node:path";
import process from "node:process";
import { randomFile } from "./fixtures.ts";
import {
  type BenchContext,
  findNode26,
  makeRow,
  roundOrder,
  run,
  type Section,
  type SectionResult,
  type Target,
  warm,
} from "./lib.ts";

const TARGET: Target = { of: "ratio", op: ">=", value: 0.9, text: ">= 0.90x openssl" };

type Runner = {
  key: "inproc" | "node" | "openssl";
  /** `inner`: the hashing alone, as the child timed it (node: without its startup). */
  go(): Promise<{ seconds: number; hash: string; inner?: number }>;
};

async function run_(ctx: BenchContext): Promise<SectionResult> {
  const mib = ctx.quick ? 128 : 1024;
  const file = await randomFile(ctx, mib);
  const gb = (mib * (1 << 20)) / 1e9;
  const { fingerprintFiles } = await import("../../src/core/fingerprint.ts");
  const node = findNode26(ctx.root);
  const nodeVersion = (await run([node, "--version"])).stdout.trim();
  const child = join(ctx.root, "scripts/bench/fingerprint_child.ts");
  const here = "Deno" in globalThis ? `deno ${Deno.version.deno}` : `node ${process.versions.node}`;

  const runners: Runner[] = [
    {
      key: "openssl",
      async go() {
        const r = await run(["openssl", "dgst", "-sha256", "-r", file.path]);
        return { seconds: r.seconds, hash: r.stdout.split(" ")[0] };
      },
    },
    {
      key: "inproc",
      async go() {
        const t0 = performance.now();
        const hash = await fingerprintFiles(file.path);
        return { seconds: (performance.now() - t0) / 1000, hash };
      },
    },
    {
      key: "node",
      async go() {
        // Whole-process wall time, like openssl's; and the child's own time for the hashing,
        // without node's startup from source (TypeScript stripping), which the binary lacks.
        const r = await run([node, "--expose-gc", child, file.path]);
        const out = JSON.parse(r.stdout);
        return { seconds: r.seconds, hash: out.fingerprint, inner: out.seconds };
      },
    },
  ];
  const speed: Record<Runner["key"], number[]> = { inproc: [], node: [], openssl: [] };
  const nodeInner: number[] = [];
  const notes: string[] = [];
  for (let round = 0; round < ctx.rounds; round++) {
    for (const r of roundOrder(runners, round)) {
      await warm(file.path);
      const { seconds, hash, inner } = await r.go();
      if (inner) nodeInner.push(gb / inner);
      if (hash !== file.sha256) notes.push(`${r.key} round ${round + 1}: wrong hash ${hash}`);
      speed[r.key].push(gb / seconds);
      ctx.log(`fingerprint round ${round + 1}: ${r.key} ${(gb / seconds).toFixed(2)} GB/s`);
    }
  }
  notes.push(`file: ${file.path} (${mib} MiB random), page cache warmed before each run`);
  notes.push(
    "openssl is timed as a whole process; the node child both ways (its startup from source " +
      "takes ~0.1 s, mostly TypeScript stripping)",
  );
  return {
    title: `sha256 throughput on a ${mib} MiB file, median of ${ctx.rounds} rounds`,
    peer: "openssl dgst -sha256",
    rows: [
      makeRow(`fingerprintFiles, ${here} in-process`, "GB/s", speed.inproc, speed.openssl, TARGET),
      makeRow(
        `fingerprintFiles, node ${nodeVersion} child, hashing`,
        "GB/s",
        nodeInner,
        speed.openssl,
        TARGET,
      ),
      makeRow(
        `fingerprintFiles, node ${nodeVersion} child, whole process`,
        "GB/s",
        speed.node,
        speed.openssl,
      ),
    ],
    notes,
  };
}

export const fingerprint: Section = {
  name: "fingerprint",
  describe: "sha256 throughput of fingerprintFiles vs openssl dgst -sha256 (1 GiB, quick 128 MiB)",
  run: run_,
};
