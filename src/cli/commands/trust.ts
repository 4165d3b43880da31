/**
 * `imago trust add|list|remove`: client certificates that `imago serve` trusts. A trusted
 * client (its TLS certificate's sha256 listed here) sees private images too.
 */
import { readFile } from "node:fs/promises";
import { TrustList } from "../../serve/trust.ts";
import type { CommandContext } from "../context.ts";
import { fsError } from "../files.ts";
import { checkFormat, render, sortRows } from "../output.ts";

export async function add(
  ctx: CommandContext,
  file: string,
  opts: { name?: string } = {},
): Promise<void> {
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (err) {
    throw fsError(err, `Cannot read certificate "${file}"`);
  }
  const entry = new TrustList(await ctx.store()).add(pem, opts.name);
  if (!ctx.globals.quiet) ctx.io.stderr(`Trusted certificate ${entry.fingerprint}\n`);
}

export async function list(ctx: CommandContext, opts: { format?: string } = {}): Promise<void> {
  const format = checkFormat(opts.format ?? "table");
  const entries = new TrustList(await ctx.store()).list();
  const rows = sortRows(entries.map((e) => [e.name, e.fingerprint.slice(0, 12), e.added_at]));
  ctx.io.stdout(render(format, ["NAME", "FINGERPRINT", "ADDED"], rows, entries));
}

export async function remove(ctx: CommandContext, ref: string): Promise<void> {
  const entry = new TrustList(await ctx.store()).remove(ref);
  if (!ctx.globals.quiet) ctx.io.stderr(`Removed trust for ${entry.fingerprint}\n`);
}
