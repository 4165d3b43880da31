/**
 * Building an image from a directory laid out like an unpacked LXD image (metadata.yaml,
 * rootfs/, optional templates/). GNU tar does the packing because it alone keeps everything a
 * root filesystem needs: numeric owners, modes, device nodes, FIFOs, symlinks, hard links,
 * xattrs and ACLs. Its output flows through the chosen compressor straight into Store.import.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { lstat, readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { annotate, ImagoError, InvalidInputError, NotFoundError, UsageError } from "./errors.ts";
import type { ImportSource } from "./import_image.ts";
import { METADATA_MAX } from "./inspect.ts";
import { parseMetadata } from "./metadata.ts";
import { CHUNK } from "./streams.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

/** What `lxc publish` uses by default (images.compression_algorithm). */
export const DEFAULT_BUILD_COMPRESSION = "gzip";

export interface BuildOptions {
  /** Two files (metadata tarball + rootfs tarball) instead of one unified tarball. */
  split?: boolean;
  /** Compressor name; default DEFAULT_BUILD_COMPRESSION. */
  compression?: string;
  compressors: Registry<Compressor>;
}

/** The image's files as streams for Store.import; `abort()` stops any tar still running. */
export interface BuiltImage {
  metadata: ImportSource;
  rootfs?: ImportSource;
  /** Leads messages about this build (the file names above are made up). */
  action: string;
  abort(): void;
}

/**
 * Pax options that make the archive reproducible: no pid in extended header names and no
 * atime/ctime records (mtime is kept from the files, as LXD's publish keeps it).
 */
const TAR_COMMON = [
  "--create",
  "--file=-",
  "--format=posix",
  "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime",
  "--sort=name",
  "--numeric-owner",
  "--xattrs",
  "--xattrs-include=*",
  "--acls",
];

/**
 * Checks `dir` and returns streams that pack it when read. Nothing runs until a stream is read,
 * so an import that fails early starts no process. The compressed tar bytes are never buffered
 * beyond the streams' queues.
 */
export async function buildImage(dir: string, opts: BuildOptions): Promise<BuiltImage> {
  const root = resolve(dir);
  const action = `Cannot build image from "${dir}"`;
  const name = opts.compression ?? DEFAULT_BUILD_COMPRESSION;
  const usable = opts.compressors.list().filter((c) => c.compress).map((c) => c.name);
  if (!usable.includes(name)) {
    const why = opts.compressors.has(name) ? "can only be decompressed" : "is unknown";
    throw new UsageError(
      `${action}: compression "${name}" ${why}: use one of ${usable.join(", ")}`,
    );
  }
  const compressor = opts.compressors.get(name);
  const hasTemplates = await checkLayout(root, dir, action);

  const ext = ".tar" + compressor.extension;
  const base = basename(root) || "image";
  const children: ChildProcess[] = [];
  const pack = (cwd: string, members: string[]): ReadableStream<Uint8Array> =>
    tarStream([...TAR_COMMON, "-C", cwd, ...members], action, children)
      // Fixed-size blocks: some compressors (Deno's gzip) flush at every chunk boundary.
      .pipeThrough(rechunk(CHUNK))
      .pipeThrough(compressor.compress!());

  const metaMembers = hasTemplates ? ["metadata.yaml", "templates"] : ["metadata.yaml"];
  const abort = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
  };
  if (!opts.split) {
    // metadata.yaml first so inspection finds it without reading the rootfs.
    return {
      metadata: { stream: pack(root, [...metaMembers, "rootfs"]), name: `${base}${ext}` },
      action,
      abort,
    };
  }
  return {
    metadata: { stream: pack(root, metaMembers), name: `meta-${base}${ext}` },
    // A split rootfs tarball holds the tree at its root: LXD unpacks it into <dir>/rootfs.
    rootfs: { stream: pack(join(root, "rootfs"), ["."]), name: `${base}${ext}` },
    action,
    abort,
  };
}

/** Validates the directory and metadata.yaml; returns whether templates/ is present. */
async function checkLayout(root: string, dir: string, action: string): Promise<boolean> {
  const kind = async (p: string) => {
    try {
      const s = await lstat(p);
      return s.isFile() ? "file" : s.isDirectory() ? "directory" : "other";
    } catch {
      return "missing";
    }
  };
  const top = await kind(root);
  if (top === "missing") throw new NotFoundError(`${action}: the directory does not exist`);
  if (top !== "directory") throw new InvalidInputError(`${action}: it is not a directory`);

  const need = async (rel: string, want: "file" | "directory", optional = false) => {
    const p = join(root, rel);
    const k = await kind(p);
    if (k === want || (optional && k === "missing")) return k === want;
    const shown = join(dir, rel);
    if (k === "missing") {
      throw new NotFoundError(
        `${action}: "${shown}" is missing: an image directory needs ` +
          `metadata.yaml and rootfs/ (templates/ is optional)`,
      );
    }
    throw new InvalidInputError(
      `${action}: "${shown}" must be a ${want}, not a symlink or ` +
        `other special file`,
    );
  };
  await need("metadata.yaml", "file");
  await need("rootfs", "directory");
  const hasTemplates = await need("templates", "directory", true);

  const metaPath = join(root, "metadata.yaml");
  const { size } = await lstat(metaPath);
  if (size > METADATA_MAX) {
    throw new InvalidInputError(`${action}: metadata.yaml is larger than 1 MiB`);
  }
  let meta;
  try {
    meta = parseMetadata(await readFile(metaPath), "metadata.yaml");
  } catch (err) {
    throw err instanceof ImagoError ? annotate(err, action) : err;
  }
  // A template named in metadata.yaml but not shipped would only fail at instance start.
  for (const [target, t] of Object.entries(meta.templates)) {
    if (await kind(join(root, "templates", t.template)) !== "file") {
      throw new NotFoundError(
        `${action}: template "${t.template}" for "${target}" is missing ` +
          `from "${join(dir, "templates")}"`,
      );
    }
  }
  return hasTemplates;
}

/**
 * A stream of tar's stdout that starts tar on the first read and ends only after tar exited:
 * cleanly, or with an error carrying tar's first complaint.
 */
function tarStream(
  args: string[],
  action: string,
  children: ChildProcess[],
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let exited: Promise<void> | undefined;
  let failed: Promise<never> | undefined;
  let child: ChildProcess | undefined;
  const start = () => {
    child = spawn("tar", args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (s: string) => {
      if (stderr.length < 65536) stderr += s;
    });
    const c = child;
    exited = new Promise<void>((ok, fail) => {
      c.on("error", (err: NodeJS.ErrnoException) => {
        const why = err.code === "ENOENT"
          ? "the tar program was not found: install GNU tar"
          : err.message;
        fail(new ImagoError(`${action}: ${why}`, { cause: err }));
      });
      c.on("close", (code, signal) => {
        if (code === 0) ok();
        else fail(new ImagoError(`${action}: tar failed: ${complaint(stderr, code, signal)}`));
      });
    });
    exited.catch(() => {});
    // Rejects as soon as tar fails, even while stdout still has bytes queued.
    failed = exited.then(() => new Promise<never>(() => {}));
    failed.catch(() => {});
    reader = (Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>).getReader();
  };
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      if (!reader) start();
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await Promise.race([reader!.read(), failed!]);
      } catch (err) {
        // A broken pipe says less than why tar ended (not installed, failed).
        await exited;
        throw err;
      }
      if (!r.done) {
        c.enqueue(r.value);
        return;
      }
      await exited;
      c.close();
    },
    async cancel(reason) {
      if (child && child.exitCode === null && child.signalCode === null) child.kill();
      await reader?.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * Regroups bytes into chunks of exactly `size` (the last may be shorter), so the compressed
 * output does not depend on how the pipe from tar happened to split its writes.
 */
function rechunk(size: number): TransformStream<Uint8Array, Uint8Array> {
  let buf = new Uint8Array(size);
  let fill = 0;
  return new TransformStream({
    transform(chunk, c) {
      let off = 0;
      while (off < chunk.byteLength) {
        const n = Math.min(size - fill, chunk.byteLength - off);
        buf.set(chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === size) {
          c.enqueue(buf);
          buf = new Uint8Array(size);
          fill = 0;
        }
      }
    },
    flush(c) {
      if (fill > 0) c.enqueue(buf.subarray(0, fill));
    },
  });
}

/** tar's first useful stderr line, without the "tar: " prefix. */
function complaint(stderr: string, code: number | null, signal: string | null): string {
  const line = stderr.split("\n").map((l) => l.replace(/^tar: /, "").trim())
    .find((l) => l && !l.startsWith("Exiting with failure status"));
  return line ?? (signal ? `killed by ${signal}` : `exit status ${code}`);
}
