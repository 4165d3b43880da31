/**
 * `imago refresh [IMAGE]...`: checks images against the remote they were pulled from (by
 * alias) and, when the alias now names a new image, pulls it, moves the aliases and deletes the
 * old one. Without arguments: every image with auto_update. Exits 1 when any check failed.
 */
import { ImagoError } from "../../core/errors.ts";
import { refreshImages } from "../../core/refresh.ts";
import type { CommandContext } from "../context.ts";
import { updateConnector } from "../remotes.ts";

export async function action(ctx: CommandContext, refs: string[] = []): Promise<void> {
  const store = await ctx.store();
  const connect = await updateConnector(ctx);
  const results = await refreshImages(store, connect, { refs });
  let failed = 0;
  for (const r of results) {
    const fp = r.fingerprint.slice(0, 12);
    if (r.status === "failed") {
      failed++;
      ctx.log.error(`Cannot refresh image ${fp}: ${r.error?.message}`);
    } else if (!ctx.globals.quiet) {
      ctx.print(
        r.status === "updated"
          ? `Image ${fp} updated to ${r.newFingerprint}`
          : `Image ${fp} is up to date`,
      );
    }
  }
  if (failed) throw new ImagoError(`Cannot refresh ${failed} of ${results.length} images`);
}
