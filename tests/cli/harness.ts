/** Runs imago commands in-process against a temp store, capturing output and exit code. */
import { join } from "node:path";
import { run } from "../../src/cli/run.ts";
import type { ImageRecord } from "../../src/core/model.ts";
import { Store } from "../../src/core/store.ts";
import { tempDir } from "../helpers.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  stdin?: string | ReadableStream<Uint8Array>;
  stdinIsTTY?: boolean;
  stderrIsTTY?: boolean;
  env?: Record<string, string | undefined>;
}

/** A temp folder with a store path inside, and `cli()` bound to that store. */
export function sandbox() {
  const tmp = tempDir("imago-cli-");
  const store = join(tmp.path, "store");
  return {
    dir: tmp.path,
    store,
    cleanup: tmp.cleanup,
    cli: (args: string[], opts: CliOptions = {}) => cli(["--store", store, ...args], opts),
    /** Inserts records directly, for tests that need exact sizes, dates or fingerprints. */
    async insert(...records: ImageRecord[]): Promise<void> {
      const s = await Store.open(store);
      try {
        for (const r of records) {
          s.records.insert(r);
          for (const a of r.aliases) s.records.putAlias(a.name, r.fingerprint, a.description);
        }
      } finally {
        s.close();
      }
    },
    async open(): Promise<Store> {
      return await Store.open(store);
    },
  };
}

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(c) {
      if (bytes.byteLength) c.enqueue(bytes);
      c.close();
    },
  });
}

export async function cli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  const code = await run(args, {
    stdout: (s) => void (stdout += s),
    stderr: (s) => void (stderr += s),
    stdin: typeof opts.stdin === "string" ? streamOf(opts.stdin) : opts.stdin,
    stdinIsTTY: opts.stdinIsTTY ?? false,
    stderrIsTTY: opts.stderrIsTTY ?? false,
    env: opts.env ?? {},
  });
  return { code, stdout, stderr };
}

/** A record with fixed, readable values; `fp` is padded to 64 hex characters. */
export function record(fp: string, over: Partial<ImageRecord> = {}): ImageRecord {
  const fingerprint = fp.padEnd(64, "0");
  return {
    fingerprint,
    filename: `${fp}.tar.gz`,
    type: "container",
    architecture: "x86_64",
    size: 1048576,
    public: false,
    auto_update: false,
    cached: false,
    properties: { description: `Image ${fp}`, os: "testos", release: "1" },
    aliases: [],
    profiles: ["default"],
    created_at: "2023-11-14T22:13:20Z",
    uploaded_at: "2026-01-02T15:04:05Z",
    expires_at: "1970-01-01T00:00:00Z",
    last_used_at: "0001-01-01T00:00:00Z",
    files: { metadata_ext: ".tar.gz", metadata_size: 1048576 },
    ...over,
  };
}
