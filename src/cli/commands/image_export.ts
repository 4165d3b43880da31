/**
 * `imago export [REMOTE:]IMAGE [TARGET]`: byte-identical copies of the image's files, named as
 * `lxc image export` names them (a remote image is first pulled into the store, cached). Each
 * file is streamed to a temp name beside its destination, the bytes are checked against the
 * fingerprint, and only then renamed into place. Like lxc, an existing file is replaced (after
 * the copy succeeded), with a warning on stderr.
 */
import { randomBytes } from "node:crypto";
import { rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { IntegrityError, NotFoundError } from "../../core/errors.ts";
import { fileSink } from "../../core/staging.ts";
import type { ExportFiles } from "../../core/store.ts";
import { counting, fileStream, sha256 } from "../../core/streams.ts";
import type { CommandContext } from "../context.ts";
import { fsError } from "../files.ts";
import { localOrPulled } from "../pull_remote.ts";

export interface ExportPlan {
  metadata: string;
  rootfs?: string;
}

/**
 * Destination paths, as lxc picks them: in a folder, LXD's names (`<fp>.tar.xz`, or
 * `meta-<fp>.tar.xz` + `<fp>.squashfs`); for a file name, `TARGET.<ext of LXD's name>` for a
 * unified image, or `TARGET` + `TARGET.root` for a split one.
 */
export function exportPlan(files: ExportFiles, target: string, targetIsDir: boolean): ExportPlan {
  if (targetIsDir) {
    return {
      metadata: join(target, files.metadata.name),
      rootfs: files.rootfs && join(target, files.rootfs.name),
    };
  }
  if (files.rootfs) return { metadata: target, rootfs: `${target}.root` };
  const dot = files.metadata.name.indexOf(".");
  return { metadata: dot < 0 ? target : `${target}${files.metadata.name.slice(dot)}` };
}

const exists = (p: string) => stat(p).then(() => true, () => false);
const isDir = (p: string) => stat(p).then((s) => s.isDirectory(), () => false);

export async function action(ctx: CommandContext, ref: string, target?: string): Promise<void> {
  const store = await ctx.store();
  const rec = await localOrPulled(ctx, ref);
  const what = `Cannot export "${ref}"`;
  const files = store.files(rec.fingerprint);
  const plan = exportPlan(files, target ?? ".", target === undefined || await isDir(target));
  const copies = [{ src: files.metadata.path, dest: plan.metadata }];
  if (files.rootfs && plan.rootfs) copies.push({ src: files.rootfs.path, dest: plan.rootfs });
  for (const c of copies) {
    if (!await isDir(dirname(c.dest))) {
      throw new NotFoundError(`${what}: folder "${dirname(c.dest)}" not found`);
    }
  }

  const hash = sha256();
  const temps: string[] = [];
  const progress = ctx.progress(`Exporting ${rec.fingerprint.slice(0, 12)}`, rec.size);
  try {
    let base = 0;
    for (const c of copies) {
      const tmp = join(
        dirname(c.dest),
        `.${basename(c.dest)}.imago-${randomBytes(6).toString("hex")}.tmp`,
      );
      temps.push(tmp);
      const { sink, size } = fileSink(tmp, hash);
      const offset = base;
      await fileStream(c.src).pipeThrough(counting((n) => progress.update(offset + n)))
        .pipeTo(sink);
      base += size();
    }
    const actual = hash.digest("hex");
    if (actual !== rec.fingerprint) {
      throw new IntegrityError(`${what}: the stored files are damaged`, rec.fingerprint, actual);
    }
    for (const [i, c] of copies.entries()) {
      if (await exists(c.dest)) ctx.log.warn(`Replacing existing file "${c.dest}"`);
      await rename(temps[i], c.dest);
    }
  } catch (err) {
    await Promise.all(temps.map((t) => rm(t, { force: true })));
    throw fsError(err, what);
  } finally {
    progress.done();
  }
  // Like LXD, an export is not a use: last_used_at changes when an instance is made from it.
  if (!ctx.globals.quiet) ctx.print("Image exported successfully!");
}
