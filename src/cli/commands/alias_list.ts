/**
 * `imago alias list [FILTER]...`: columns ALIAS, FINGERPRINT, TYPE, DESCRIPTION. As in lxc, a
 * filter is part of an alias name or of the target fingerprint, and any filter may match.
 */
import { toApiAlias } from "../../core/api_image.ts";
import type { CommandContext } from "../context.ts";
import { checkFormat, render, sortRows } from "../output.ts";

export async function action(
  ctx: CommandContext,
  filters: string[],
  opts: { format?: string } = {},
): Promise<void> {
  const format = checkFormat(opts.format ?? "table");
  const store = await ctx.store();
  const aliases = store.aliases().filter((a) =>
    filters.length === 0 || filters.some((f) => a.name.includes(f) || a.target.includes(f))
  );
  const rows = sortRows(aliases.map((a) => [
    a.name,
    a.target.slice(0, 12),
    (a.type || "container").toUpperCase(),
    a.description,
  ]));
  const headers = ["ALIAS", "FINGERPRINT", "TYPE", "DESCRIPTION"];
  ctx.io.stdout(render(format, headers, rows, aliases.map(toApiAlias)));
}
