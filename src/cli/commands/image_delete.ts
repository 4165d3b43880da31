/** `imago delete IMAGE...`: resolves every reference first, so one typo deletes nothing. */
import type { CommandContext } from "../context.ts";

export async function action(ctx: CommandContext, refs: string[]): Promise<void> {
  const store = await ctx.store();
  const fingerprints = [...new Set(refs.map((ref) => store.resolve(ref).fingerprint))];
  for (const fp of fingerprints) {
    await store.delete(fp);
    ctx.log.debug(`Deleted image ${fp}`);
  }
}
