/**
 * `imago unpack [REMOTE:]IMAGE DIR [--name NAME] [-c KEY=VALUE]... [--trigger T]`: the image's
 * root filesystem written to DIR (which must not exist, or be empty), then its templates for
 * the trigger (default create) rendered as LXD renders them for an instance called NAME
 * (default: DIR's name) with that config. A remote image is pulled into the store first, cached.
 */
import { basename, resolve } from "node:path";
import { InvalidInputError } from "../../core/errors.ts";
import type { TemplateTrigger } from "../../core/metadata.ts";
import { checkInstanceName, instanceConfig, parseConfigFlags } from "../../core/templates.ts";
import { unpackImage } from "../../core/unpack.ts";
import type { CommandContext } from "../context.ts";
import { fsError } from "../files.ts";
import { localOrPulled } from "../pull_remote.ts";
import { untilSignalled } from "../signals.ts";

export interface UnpackCommandOptions {
  name?: string;
  config?: string[];
  trigger?: TemplateTrigger;
}

export async function action(
  ctx: CommandContext,
  ref: string,
  dir: string,
  opts: UnpackCommandOptions = {},
): Promise<void> {
  const name = opts.name ?? basename(resolve(dir));
  checkInstanceName(name);
  const user = parseConfigFlags(opts.config ?? []);
  const store = await ctx.store();
  const rec = await localOrPulled(ctx, ref);
  const fp = rec.fingerprint;
  if (rec.type === "virtual-machine") {
    throw new InvalidInputError(
      `Cannot unpack "${ref}": it is a virtual-machine image: VM disk images cannot be unpacked`,
    );
  }
  const files = store.files(fp);
  const progress = ctx.progress(`Unpacking ${fp.slice(0, 12)}`, rec.size);
  const failed = `Cannot unpack "${ref}" into "${dir}"`;
  let result;
  try {
    // On Ctrl-C or SIGTERM the unpack stops and removes its temporary folder before we exit.
    result = await untilSignalled(failed, (signal) =>
      unpackImage(
        {
          metadata: files.metadata.path,
          rootfs: files.rootfs && { path: files.rootfs.path, kind: rec.files.rootfs!.kind },
          label: ref,
        },
        dir,
        {
          compressors: store.compressors,
          templates: {
            trigger: opts.trigger ?? "create",
            instance: { name, architecture: rec.architecture, type: "container" },
            config: instanceConfig(fp, rec.properties, user),
          },
          onProgress: (bytes) => progress.update(bytes),
          signal,
        },
      ));
  } catch (err) {
    throw fsError(err, failed);
  } finally {
    progress.done();
  }
  // Like creating an instance from it, unpacking is a use of the image.
  store.touch(fp);
  if (result.droppedDevices) {
    ctx.log.warn(`Left out ${result.droppedDevices} device nodes: only root can create them`);
  }
  const t = result.templates!;
  const skipped = t.skipped.length ? `, ${t.skipped.length} skipped (create_only)` : "";
  if (!ctx.globals.quiet) {
    ctx.print(
      `Unpacked ${fp.slice(0, 12)} into "${dir}" (${t.written.length} templates${skipped})`,
    );
  }
}
