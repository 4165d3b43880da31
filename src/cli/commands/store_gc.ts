/**
 * `imago gc`: deletes cached images (pulled implicitly, e.g. by `export REMOTE:IMAGE`) unused
 * for images.remote_cache_expiry days, as LXD's daily prune task does.
 */
import { pruneCached } from "../../core/cache_gc.ts";
import type { CommandContext } from "../context.ts";

export async function action(ctx: CommandContext): Promise<void> {
  const store = await ctx.store();
  const gone = await pruneCached(store);
  if (ctx.globals.quiet) return;
  for (const rec of gone) ctx.print(`Deleted expired cached image ${rec.fingerprint}`);
  if (gone.length === 0) ctx.print("No expired cached images");
}
