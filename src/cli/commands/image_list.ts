/** `imago list [REMOTE:][FILTER]...`: the store's (or a remote's) images, with lxc's columns, sorting and formats. */
import type { ApiImage } from "../../core/api_image.ts";
import { UsageError } from "../../core/errors.ts";
import { formatMB, listDate } from "../cells.ts";
import type { CommandContext } from "../context.ts";
import { imageMatches } from "../image_filter.ts";
import { checkFormat, render, sortRows } from "../output.ts";
import { listImages } from "../remote_images.ts";

export interface ListOptions {
  columns?: string;
  format?: string;
}

interface Column {
  name: string;
  cell(img: ApiImage): string;
}

/** lxc's shortest alias: the first of the shortest non-empty names. */
function shortestAlias(img: ApiImage): string {
  let shortest = "";
  for (const a of img.aliases) {
    if (shortest === "" || (a.name.length > 0 && a.name.length < shortest.length)) {
      shortest = a.name;
    }
  }
  return img.aliases.length > 1 ? `${shortest} (${img.aliases.length - 1} more)` : shortest;
}

const COLUMNS: Record<string, Column> = {
  l: { name: "ALIAS", cell: shortestAlias },
  L: { name: "ALIASES", cell: (i) => i.aliases.map((a) => a.name).sort().join("\n") },
  f: { name: "FINGERPRINT", cell: (i) => i.fingerprint.slice(0, 12) },
  F: { name: "FINGERPRINT", cell: (i) => i.fingerprint },
  p: { name: "PUBLIC", cell: (i) => i.public ? "yes" : "no" },
  d: { name: "DESCRIPTION", cell: (i) => i.properties.description ?? "" },
  a: { name: "ARCHITECTURE", cell: (i) => i.architecture },
  s: { name: "SIZE", cell: (i) => formatMB(i.size) },
  u: { name: "UPLOAD DATE", cell: (i) => listDate(i.uploaded_at) },
  t: { name: "TYPE", cell: (i) => (i.type || "container").toUpperCase() },
};

/** Parses -c: column letters, optionally in comma-separated groups, as lxc does. */
export function parseColumns(spec: string): Column[] {
  const out: Column[] = [];
  for (const group of spec.split(",")) {
    if (group === "") {
      throw new UsageError(
        `Empty column entry (redundant, leading or trailing comma) in "${spec}"`,
      );
    }
    for (const ch of group) {
      const col = COLUMNS[ch];
      if (!col) {
        throw new UsageError(`Unknown column "${ch}" in "${group}": use letters of lLfFpdastu`);
      }
      out.push(col);
    }
  }
  return out;
}

export async function action(
  ctx: CommandContext,
  filters: string[],
  opts: ListOptions = {},
): Promise<void> {
  const format = checkFormat(opts.format ?? "table");
  const columns = parseColumns(opts.columns ?? "lfpdatsu");
  const source = await listImages(ctx, filters);
  const images = source.images.filter((img) => imageMatches(source.filters, img));
  const rows = sortRows(images.map((img) => columns.map((c) => c.cell(img))));
  ctx.io.stdout(render(format, columns.map((c) => c.name), rows, images));
}
