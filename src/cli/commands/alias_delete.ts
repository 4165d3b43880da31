/** `imago alias delete NAME`. */
import type { CommandContext } from "../context.ts";

export async function action(ctx: CommandContext, name: string): Promise<void> {
  const store = await ctx.store();
  store.deleteAlias(name);
}
