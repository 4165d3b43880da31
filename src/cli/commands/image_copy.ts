/**
 * `imago copy REMOTE:REF [local:] [--alias A]... [--copy-aliases] [--auto-update] [--public]
 * [--arch ARCH] [--vm]`: pulls an image from a remote into the store, as `lxc image copy`
 * does. Like lxc, aliases are applied after the copy and a local alias of the same name moves
 * to the new image. An image pulled by alias records its source, for `imago refresh`.
 */
import { UsageError } from "../../core/errors.ts";
import type { ImageAlias } from "../../core/model.ts";
import type { CommandContext } from "../context.ts";
import { pullRemote } from "../pull_remote.ts";
import { isLocal, loadRemotes, splitRemote } from "../remotes.ts";

export interface CopyOptions {
  alias?: string[];
  copyAliases?: boolean;
  autoUpdate?: boolean;
  public?: boolean;
  arch?: string;
  vm?: boolean;
}

export async function action(
  ctx: CommandContext,
  source: string,
  target: string | undefined,
  opts: CopyOptions = {},
): Promise<void> {
  const config = loadRemotes(ctx);
  if (target !== undefined && target !== "local:" && target !== "local") {
    throw new UsageError(`Cannot copy to "${target}": the only target is the store, "local:"`);
  }
  const { remote, ref } = splitRemote(source, config);
  if (isLocal(remote)) {
    throw new UsageError(
      `Cannot copy "${source}": it names an image of the store; give REMOTE:IMAGE, e.g. ` +
        `"images:debian/12"`,
    );
  }
  const pulled = await pullRemote(ctx, config, remote, ref, {
    public: opts.public,
    autoUpdate: opts.autoUpdate,
    arch: opts.arch,
    vm: opts.vm,
  });
  const store = await ctx.store();
  const aliases: ImageAlias[] = [
    ...(opts.copyAliases ? pulled.image.aliases : []),
    ...(opts.alias ?? []).map((name) => ({ name, description: "" })),
  ];
  for (const a of aliases) store.setAlias(a.name, pulled.record.fingerprint, a.description);
  if (!ctx.globals.quiet) {
    ctx.print(
      pulled.downloaded
        ? "Image copied successfully!"
        : `Image already in store with fingerprint: ${pulled.record.fingerprint}`,
    );
  }
}
