/**
 * `imago fsck [--repair] [--verify]`: reports orphaned files, missing or damaged images and
 * staging leftovers; exits 1 while problems remain (after --repair none should).
 */
import { checkStore, type FsckReport } from "../../core/fsck.ts";
import { ImagoError } from "../../core/errors.ts";
import type { CommandContext } from "../context.ts";
import { renderJson, renderYaml } from "../output.ts";

const SECTIONS: [keyof FsckReport, string][] = [
  ["missing", "Images with missing files"],
  ["mismatched", "Images with damaged files (wrong size or hash)"],
  ["orphans", "Files that belong to no image"],
  ["staleStaging", "Leftovers of interrupted imports"],
];

function count(r: FsckReport): number {
  return r.missing.length + r.mismatched.length + r.orphans.length + r.staleStaging.length;
}

export async function action(
  ctx: CommandContext,
  opts: { repair?: boolean; verify?: boolean; format?: string } = {},
): Promise<void> {
  const store = await ctx.store({ sweep: false });
  const report = await checkStore(store, { repair: opts.repair, verify: opts.verify });
  const problems = count(report);
  if (opts.format === "json") ctx.print(renderJson(report));
  else if (opts.format === "yaml") ctx.print(renderYaml(report));
  else {
    const out: string[] = [];
    for (const [key, title] of SECTIONS) {
      const list = report[key] as string[];
      if (list.length === 0) continue;
      out.push(`${title}:`, ...list.map((x) => `    - ${x}`));
    }
    if (problems === 0) out.push("No problems found");
    else if (report.repaired) out.push(`Repaired ${problems} problem${problems > 1 ? "s" : ""}`);
    if (out.length) ctx.print(out.join("\n"));
  }
  if (problems > 0 && !report.repaired) {
    throw new ImagoError(
      `Store check found ${problems} problem${problems > 1 ? "s" : ""}: ` +
        `run "imago fsck --repair" to remove them`,
    );
  }
}
