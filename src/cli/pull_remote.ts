/**
 * Pulling `REMOTE:REF` into the store for the CLI (copy, and export of a remote image): resolve
 * on the remote, download through core/pull.ts with a progress bar, and record the source when
 * the reference was an alias, as LXD does.
 */
import { canonicalArch, hostArch } from "../core/arch.ts";
import { UsageError } from "../core/errors.ts";
import type { ImageRecord } from "../core/model.ts";
import { pullImage } from "../core/pull.ts";
import type { RemotesConfig } from "../core/remotes_config.ts";
import { getSetting } from "../core/settings.ts";
import type { RemoteImage } from "../plugins/types.ts";
import type { CommandContext } from "./context.ts";
import { isLocal, loadRemotes, splitRemote, updateSource, withRemote } from "./remotes.ts";

export interface PullRequest {
  public?: boolean;
  autoUpdate?: boolean;
  cached?: boolean;
  arch?: string;
  vm?: boolean;
}

export interface Pulled {
  record: ImageRecord;
  /** The image as the remote described it (its aliases, for --copy-aliases). */
  image: RemoteImage;
  downloaded: boolean;
}

/** The architecture to ask for: --arch (checked), else the host's. */
export function wantedArch(arch: string | undefined): string {
  if (arch === undefined) return hostArch();
  const canonical = canonicalArch(arch);
  if (!canonical) throw new UsageError(`Unknown architecture "${arch}"`);
  return canonical;
}

export async function pullRemote(
  ctx: CommandContext,
  config: RemotesConfig,
  remoteName: string,
  ref: string,
  req: PullRequest = {},
): Promise<Pulled> {
  const arch = wantedArch(req.arch);
  const store = await ctx.store();
  return await withRemote(ctx, config, remoteName, async (open) => {
    const image = await open.remote.resolve(ref, {
      arch,
      type: req.vm ? "virtual-machine" : undefined,
    });
    const label = `Copying ${remoteName}:${ref} (${image.fingerprint.slice(0, 12)})`;
    const progress = ctx.progress(label, image.size || undefined);
    try {
      const result = await pullImage(store, open.remote, image, {
        public: req.public ?? false,
        auto_update: req.autoUpdate ?? false,
        cached: req.cached ?? false,
        update_source: updateSource(open, ref, image),
        onProgress: (bytes) => progress.update(bytes),
      });
      return { record: result.image, image, downloaded: result.downloaded };
    } finally {
      progress.done();
    }
  });
}

/**
 * The store's image for `[REMOTE:]REF`: a local reference as is, a remote one pulled first as
 * a cached image (auto-updating when images.auto_update_cached says so), as LXD caches the
 * images it pulls implicitly.
 */
export async function localOrPulled(ctx: CommandContext, text: string): Promise<ImageRecord> {
  const config = loadRemotes(ctx);
  const { remote, ref } = splitRemote(text, config);
  const store = await ctx.store();
  if (isLocal(remote)) return store.resolve(ref);
  const autoUpdate = getSetting(store, "images.auto_update_cached") === "true";
  return (await pullRemote(ctx, config, remote, ref, { cached: true, autoUpdate })).record;
}
