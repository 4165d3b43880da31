/**
 * Unpacking an image's root filesystem into a folder, then applying its templates. Everything is
 * written into a new sibling folder `DIR.imago-unpack-<pid>-<random>` first and renamed to DIR
 * only at the end, so DIR is either absent (or the empty folder it was) or complete: any failure
 * (or an abort through the signal) removes the temporary folder and leaves DIR as it was. A
 * killed process cannot clean up, so each unpack first removes the sibling folders of processes
 * that are gone. DIR must not exist, or be an empty folder (it is then replaced, taking the mode
 * and owner of the image's root folder).
 */
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { chmod, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import process from "node:process";
import { ConflictError, InvalidInputError, NotFoundError } from "./errors.ts";
import { decompressed } from "./decompress.ts";
import { extractSquashfs, extractTar, extractTarFile } from "./extract.ts";
import { BundleCollector, readBundle } from "./image_bundle.ts";
import type { RootfsKind } from "./model.ts";
import { pidAlive } from "./pids.ts";
import { counting, fileStream } from "./streams.ts";
import { type CheckResult, checkTarFile, tarGate } from "./tar_gate.ts";
import {
  type ApplyResult,
  applyTemplates,
  type TemplateBundle,
  type TemplateRun,
} from "./templates.ts";
import { DETECT_BYTES, detectCompressor } from "../plugins/detect.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

/** An image's files as the store keeps them. */
export interface UnpackSource {
  /** The unified image, or the metadata tarball of a split one. */
  metadata: string;
  rootfs?: { path: string; kind: RootfsKind };
  /** Names the image in messages (an alias or fingerprint). */
  label: string;
}

export interface UnpackOptions {
  compressors: Registry<Compressor>;
  /** Apply the templates for this instance; without it no template is rendered. */
  templates?: TemplateRun;
  /** Bytes of the stored files read so far. */
  onProgress?: (bytes: number) => void;
  /** Stops the unpack: the temporary folder is removed and the signal's reason thrown. */
  signal?: AbortSignal;
}

export interface UnpackResult {
  bundle: TemplateBundle;
  templates?: ApplyResult;
  /** Device nodes left out because the process is not root. */
  droppedDevices: number;
}

const isRoot = () => process.getuid?.() === 0;

/** Unpacks `source` into `dir` (see the module comment). */
export async function unpackImage(
  source: UnpackSource,
  dir: string,
  opts: UnpackOptions,
): Promise<UnpackResult> {
  const action = `Cannot unpack "${source.label}" into "${dir}"`;
  if (source.rootfs?.kind === "qcow2") {
    throw new InvalidInputError(
      `${action}: it is a virtual-machine image: VM disk images (qcow2) cannot be unpacked`,
    );
  }
  const target = resolve(dir);
  await checkTarget(target, dir, action);
  await sweepStale(dirname(target));
  opts.signal?.throwIfAborted();
  const stage = `${target}${STAGE}${process.pid}-${randomBytes(6).toString("hex")}`;
  await mkdir(stage, { mode: 0o700 });
  try {
    const root = join(stage, "rootfs");
    const { bundle, droppedDevices } = await extractRootfs(source, stage, root, opts, action);
    opts.signal?.throwIfAborted();
    const templates = opts.templates
      ? await applyTemplates(root, bundle, opts.templates)
      : undefined;
    opts.signal?.throwIfAborted();
    try {
      await rename(root, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
        throw new ConflictError(`${action}: "${dir}" was created meanwhile and is not empty`);
      }
      throw err;
    }
    return { bundle, templates, droppedDevices };
  } finally {
    await removeTree(stage);
  }
}

/** What marks a temporary unpack folder: `DIR.imago-unpack-<pid>-<random>`. */
const STAGE = ".imago-unpack-";
const STAGE_NAME = /\.imago-unpack-(\d+)-[0-9a-f]+$/;

/**
 * Removes the temporary unpack folders in `parent` whose process is gone (killed mid-unpack).
 * Best effort: a folder this user cannot remove stays.
 */
async function sweepStale(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const m = STAGE_NAME.exec(name);
    if (m && !pidAlive(Number(m[1]))) await removeTree(join(parent, name));
  }
}

/** DIR must be absent (in an existing folder) or an empty folder. */
async function checkTarget(target: string, dir: string, action: string): Promise<void> {
  const st = await lstat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (!st) {
    const parent = await stat(dirname(target)).catch(() => undefined);
    if (!parent?.isDirectory()) {
      throw new NotFoundError(`${action}: the folder "${dirname(dir)}" does not exist`);
    }
    return;
  }
  if (st.isSymbolicLink()) throw new InvalidInputError(`${action}: "${dir}" is a symlink`);
  if (!st.isDirectory()) throw new ConflictError(`${action}: "${dir}" exists and is not a folder`);
  if ((await readdir(target)).length) {
    throw new ConflictError(`${action}: "${dir}" is not empty: give a new or an empty folder`);
  }
}

/** Writes the root filesystem to `root` (inside `stage`); returns metadata and templates. */
async function extractRootfs(
  source: UnpackSource,
  stage: string,
  root: string,
  opts: UnpackOptions,
  action: string,
): Promise<{ bundle: TemplateBundle; droppedDevices: number }> {
  const label = basename(source.metadata);
  if (!source.rootfs) {
    // Unified: rootfs/ lands in <stage>/rootfs, as LXD unpacks it.
    const r = await extractTarball(source.metadata, stage, "unified", 0, opts, action);
    await mkdir(root, { mode: 0o755 }).catch(() => {}); // only entries below rootfs/
    const bundle = new BundleCollector(action).finish(r.metadata, r.templates);
    return { bundle, droppedDevices: r.droppedDevices };
  }
  const bundle = await readBundle(source.metadata, opts.compressors, label, action);
  const read = (await stat(source.metadata)).size;
  if (source.rootfs.kind === "squashfs") {
    await extractSquashfs(source.rootfs.path, root, action, opts.signal);
    opts.onProgress?.(read + (await stat(source.rootfs.path)).size);
    return { bundle, droppedDevices: 0 };
  }
  await mkdir(root, { mode: 0o755 });
  await chmod(root, 0o755);
  const r = await extractTarball(source.rootfs.path, root, "split", read, opts, action);
  return { bundle, droppedDevices: r.droppedDevices };
}

/**
 * Extracts the tarball `file` into `dest` through the checks of tar_check.ts. An uncompressed
 * one is checked by its headers first and then read by tar itself (no copy through this
 * process), unless it holds device nodes an unprivileged tar could not create; any other goes
 * through the streaming gate. `before` is the byte count already reported as progress.
 */
async function extractTarball(
  file: string,
  dest: string,
  layout: "unified" | "split",
  before: number,
  opts: UnpackOptions,
  action: string,
): Promise<CheckResult> {
  const label = basename(file);
  const noVm = (r: CheckResult) => {
    if (layout === "unified" && r.entries === 0) {
      throw new InvalidInputError(`${action}: the image has no rootfs/ (is it a VM image?)`);
    }
    return r;
  };
  const size = (await stat(file)).size;
  if (isPlainTar(file, opts.compressors, label)) {
    const r = noVm(await checkTarFile(file, { layout, dropDevices: false, action }));
    opts.signal?.throwIfAborted();
    if (isRoot() || r.devices === 0) {
      await extractTarFile(file, dest, isRoot(), action, opts.signal);
      opts.onProgress?.(before + size);
      return r;
    }
  }
  const gate = tarGate({ layout, dropDevices: !isRoot(), action });
  const raw = fileStream(file).pipeThrough(counting((n) => opts.onProgress?.(before + n)));
  const tar = await decompressed(raw, opts.compressors, label, action);
  await extractTar(tar.pipeThrough(gate.stream), dest, isRoot(), action, opts.signal);
  return noVm(gate.result());
}

/** Whether `file` is an uncompressed tar, by the magic bytes that detect compressions. */
function isPlainTar(file: string, compressors: Registry<Compressor>, label: string): boolean {
  const head = new Uint8Array(DETECT_BYTES);
  const fd = openSync(file, "r");
  try {
    readSync(fd, head, 0, DETECT_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  try {
    return detectCompressor(head, compressors, `"${label}"`).name === "none";
  } catch {
    return false; // the stream path reports it
  }
}

/**
 * Removes the temporary folder. Without root a folder unpacked read-only (0555) cannot be
 * emptied, so folders are made writable and the removal tried again.
 */
async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    const open = async (p: string): Promise<void> => {
      const st = await lstat(p).catch(() => undefined);
      if (!st?.isDirectory()) return;
      await chmod(p, 0o700).catch(() => {});
      for (const name of await readdir(p).catch(() => [])) await open(join(p, name));
    };
    await open(path);
    await rm(path, { recursive: true, force: true }).catch(() => {});
  }
}
