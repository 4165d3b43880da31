/**
 * `deno task bench [--quick] [--source | --imago BIN] [--rounds N] [SECTION...]`: imago measured
 * side by side with the real peers (openssl, LXD) in the same run, interleaved, with medians,
 * ratios and targets. It is a report, not a test: the exit code is 0 whatever the verdicts.
 * Sections live in scripts/bench/; results also go to /tmp/imago-bench/last.json
 * (folder: $IMAGO_BENCH_DIR).
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { copySection } from "./bench/copy.ts";
import { fingerprint } from "./bench/fingerprint.ts";
import { importSection } from "./bench/import.ts";
import { type BenchContext, ensureDir, type Section, type SectionResult } from "./bench/lib.ts";
import { formatSection, summaryLine } from "./bench/report.ts";
import { rss } from "./bench/rss.ts";
import { serveDownload } from "./bench/serve_download.ts";
import { serveList } from "./bench/serve_list.ts";
import { unpackSection } from "./bench/unpack.ts";

/** Every section in the order a full run takes them; later issues append here. */
const SECTIONS: Section[] = [
  fingerprint,
  importSection,
  rss,
  unpackSection,
  serveDownload,
  serveList,
  copySection,
];

const USAGE = `usage: deno task bench [--quick] [--source | --imago BIN] [--rounds N] [SECTION...]
sections (default: all):
${SECTIONS.map((s) => `  ${s.name.padEnd(15)} ${s.describe}`).join("\n")}
  --quick      smaller inputs, for trying the script
  --source     run imago as node src/cli/main.ts even when dist/imago exists
  --imago BIN  run this imago binary (e.g. one built with scripts/build_sea.ts --outdir)
  --rounds N   interleaved rounds per measurement (default 3); medians are reported`;

type Options = { quick: boolean; imago?: string; rounds: number; names: string[] };

function parseArgs(args: string[]): Options {
  const opts = {
    quick: false,
    imago: undefined as string | undefined,
    rounds: 3,
    names: [] as string[],
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--quick") opts.quick = true;
    else if (a === "--source") opts.imago = "source";
    else if (a === "--imago" && args[i + 1]) opts.imago = resolve(args[++i]);
    else if (a === "--rounds" && Number(args[i + 1]) >= 1) opts.rounds = Number(args[++i]);
    else if (a === "-h" || a === "--help") {
      console.log(USAGE);
      process.exit(0);
    } else if (SECTIONS.some((s) => s.name === a)) opts.names.push(a);
    else {
      console.error(`Cannot run the benchmark: unknown argument "${a}"\n${USAGE}`);
      process.exit(2);
    }
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const workDir = ensureDir(process.env.IMAGO_BENCH_DIR ?? "/tmp/imago-bench");
  const t0 = Date.now();
  const ctx: BenchContext = {
    quick: opts.quick,
    imago: opts.imago,
    rounds: opts.rounds,
    root,
    workDir,
    log: (msg) => console.error(`[bench ${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}`),
  };
  const chosen = opts.names.length ? SECTIONS.filter((s) => opts.names.includes(s.name)) : SECTIONS;
  const host = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    kernel: release(),
    loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  };
  console.log(
    `imago benchmark ${new Date().toISOString()}: ${host.cpus} x ${host.cpu}, load ${
      host.loadavg.join(" ")
    }${opts.quick ? ", QUICK sizes" : ""}\n`,
  );
  const results: Record<string, SectionResult | { error: string }> = {};
  for (const s of chosen) {
    try {
      const res = await s.run(ctx);
      results[s.name] = res;
      console.log(formatSection(s.name, res));
    } catch (err) {
      const error = (err as Error).message;
      results[s.name] = { error };
      console.log(`== ${s.name}: not measured: ${error}\n`);
    }
  }
  const summary = Object.entries(results).flatMap(([name, r]) =>
    "rows" in r ? r.rows.map((row) => summaryLine(name, row)) : [`${name}: ${r.error}`]
  );
  console.log(["summary:", ...summary.map((l) => `  ${l}`)].join("\n"));
  const out = join(workDir, "last.json");
  const seconds = Math.round((Date.now() - t0) / 1000);
  const json = { date: new Date(t0).toISOString(), seconds, quick: opts.quick, host, results };
  writeFileSync(out, JSON.stringify(json, null, 2) + "\n");
  console.log(`\n(${seconds} s; JSON in ${out})`);
}

await main();
