/** `imago alias create NAME IMAGE`: a new alias; an existing name is an error. */
import type { CommandContext } from "../context.ts";

export async function action(
  ctx: CommandContext,
  name: string,
  ref: string,
  opts: { description?: string } = {},
): Promise<void> {
  const store = await ctx.store();
  store.createAlias(name, ref, opts.description ?? "");
}
