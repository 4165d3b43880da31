/**
 * `imago remote list|remove|rename|switch|get-default`: the remotes of the client config, with
 * lxc's names, columns and messages. `remote add` is in remote_add.ts.
 */
import { LOCAL, type RemoteEntry } from "../../core/remotes_config.ts";
import type { CommandContext } from "../context.ts";
import { checkFormat, render, sortRows } from "../output.ts";
import { loadRemotes } from "../remotes.ts";

/** lxc's AUTH TYPE cell: the saved type, else by address and protocol. */
export function authType(r: RemoteEntry): string {
  if (r.auth_type) return r.auth_type;
  if (r.name === LOCAL || r.addr.startsWith("unix:")) return "file access";
  if (r.protocol === "simplestreams") return "none";
  return "tls";
}

const yes = (b: boolean | undefined) => b ? "YES" : "NO";

export function list(ctx: CommandContext, opts: { format?: string } = {}): Promise<void> {
  const format = checkFormat(opts.format ?? "table");
  const config = loadRemotes(ctx);
  const remotes = config.list();
  const rows = sortRows(remotes.map((r) => [
    r.name === config.defaultRemote ? `${r.name} (current)` : r.name,
    r.addr,
    r.protocol,
    authType(r),
    yes(r.public),
    yes(r.static),
    "NO",
  ]));
  const raw = Object.fromEntries(remotes.map((r) => [r.name, {
    addr: r.addr,
    auth_type: authType(r),
    protocol: r.protocol,
    public: r.public ?? false,
    static: r.static,
  }]));
  ctx.io.stdout(
    render(
      format,
      ["NAME", "URL", "PROTOCOL", "AUTH TYPE", "PUBLIC", "STATIC", "GLOBAL"],
      rows,
      raw,
    ),
  );
  return Promise.resolve();
}

export function remove(ctx: CommandContext, name: string): Promise<void> {
  const config = loadRemotes(ctx);
  config.remove(name);
  config.save();
  return Promise.resolve();
}

export function rename(ctx: CommandContext, from: string, to: string): Promise<void> {
  const config = loadRemotes(ctx);
  config.rename(from, to);
  config.save();
  return Promise.resolve();
}

export function switchDefault(ctx: CommandContext, name: string): Promise<void> {
  const config = loadRemotes(ctx);
  config.setDefault(name);
  config.save();
  return Promise.resolve();
}

export function getDefault(ctx: CommandContext): Promise<void> {
  ctx.print(loadRemotes(ctx).defaultRemote);
  return Promise.resolve();
}
