/**
 * The `REMOTE:` prefix for the image commands that can look at a remote (list, info, export):
 * `local:` (or no prefix while local is the default remote) is the store, any other remote is
 * asked through its protocol plugin. Remote images are shown as LXD's api.Image with the fields
 * a remote does not know at their LXD defaults.
 */
import { type ApiImage, sortedMap, toApiImage } from "../core/api_image.ts";
import { hostArch } from "../core/arch.ts";
import { NEVER_USED } from "../core/model.ts";
import type { RemoteImage } from "../plugins/types.ts";
import type { CommandContext } from "./context.ts";
import { isLocal, loadRemotes, splitRemote, withRemote } from "./remotes.ts";

/** A remote's image as api.Image. */
export function remoteApiImage(img: RemoteImage): ApiImage {
  return {
    auto_update: false,
    properties: sortedMap(img.properties),
    public: img.public,
    expires_at: img.expires_at,
    profiles: [],
    aliases: img.aliases.map((a) => ({ name: a.name, description: a.description })),
    architecture: img.architecture,
    cached: false,
    filename: img.filename,
    fingerprint: img.fingerprint,
    size: img.size,
    type: img.type,
    created_at: img.created_at,
    last_used_at: NEVER_USED,
    uploaded_at: img.uploaded_at,
  };
}

/**
 * The images `imago list [REMOTE:][FILTER]...` looks at, and the filters left once the
 * remote prefix is taken off the first one (lxc counts the text after "R:" as a filter).
 */
export async function listImages(
  ctx: CommandContext,
  filters: string[],
): Promise<{ images: ApiImage[]; filters: string[] }> {
  const config = loadRemotes(ctx);
  const first = filters.length ? splitRemote(filters[0], config) : undefined;
  const remote = first?.remote ?? config.defaultRemote;
  const rest = first?.explicit ? [first.ref, ...filters.slice(1)].filter((f) => f) : filters;
  if (isLocal(remote)) {
    const store = await ctx.store();
    return { images: store.list().map(toApiImage), filters: rest };
  }
  const images = await withRemote(ctx, config, remote, async ({ remote: r }) => {
    const out: ApiImage[] = [];
    for await (const img of r.list()) out.push(remoteApiImage(img));
    return out;
  });
  return { images, filters: rest };
}

/** The image `[REMOTE:]REF` names: from the store, or resolved on the remote. */
export async function resolveImage(
  ctx: CommandContext,
  text: string,
  want: { arch?: string; vm?: boolean } = {},
): Promise<ApiImage> {
  const config = loadRemotes(ctx);
  const { remote, ref } = splitRemote(text, config);
  if (isLocal(remote)) return toApiImage((await ctx.store()).resolve(ref));
  return await withRemote(ctx, config, remote, async ({ remote: r }) =>
    remoteApiImage(
      await r.resolve(ref, {
        arch: want.arch ?? hostArch(),
        type: want.vm ? "virtual-machine" : undefined,
      }),
    ));
}
