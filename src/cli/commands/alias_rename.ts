/** `imago alias rename OLD NEW`: fails when NEW exists, leaving both aliases as they were. */
import type { CommandContext } from "../context.ts";

export async function action(ctx: CommandContext, from: string, to: string): Promise<void> {
  const store = await ctx.store();
  store.renameAlias(from, to);
}
