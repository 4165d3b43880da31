/** `imago show IMAGE`: the editable fields as YAML, as `lxc image show` prints them. */
import { formatImagePut, putOf } from "../../core/image_put.ts";
import type { CommandContext } from "../context.ts";

export async function action(ctx: CommandContext, ref: string): Promise<void> {
  const store = await ctx.store();
  ctx.io.stdout(formatImagePut(putOf(store.resolve(ref))));
}
