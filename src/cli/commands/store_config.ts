/**
 * `imago config get|set|unset KEY [VALUE]` and `config show`: the store's images.* settings,
 * LXD's keys with LXD's defaults; values are checked before they are saved.
 */
import { getSetting, setSetting, SETTINGS, unsetSetting } from "../../core/settings.ts";
import type { CommandContext } from "../context.ts";

export async function get(ctx: CommandContext, key: string): Promise<void> {
  ctx.print(getSetting(await ctx.store(), key));
}

export async function set(ctx: CommandContext, key: string, value: string): Promise<void> {
  setSetting(await ctx.store(), key, value);
}

export async function unset(ctx: CommandContext, key: string): Promise<void> {
  unsetSetting(await ctx.store(), key);
}

/** Every key with its value (set or default), as YAML-ish `key: value` lines. */
export async function show(ctx: CommandContext): Promise<void> {
  const store = await ctx.store();
  const lines = Object.keys(SETTINGS).sort().map((k) => `${k}: ${getSetting(store, k)}`);
  ctx.print(lines.join("\n"));
}
