/**
 * `imago serve [--listen ADDR:PORT] [--tls-cert F --tls-key F] [--http]`: the store as an image
 * server for lxc, LXD and Incus, until SIGTERM or SIGINT; then it stops accepting, lets
 * downloads in flight finish and exits.
 */
import process from "node:process";
import { hostname } from "node:os";
import { DEFAULT_LISTEN, startServer } from "../../serve/server.ts";
import { VERSION } from "../../version.ts";
import { startAutoUpdate } from "../../core/refresh.ts";
import type { CommandContext } from "../context.ts";
import { updateConnector } from "../remotes.ts";

export interface ServeCommandOptions {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  http?: boolean;
}

/** Resolves on the first SIGTERM or SIGINT. */
function signalled(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
      resolve(sig);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
}

/** Serves until `stop` resolves (the action passes the signal wait). */
export async function serve(
  ctx: CommandContext,
  opts: ServeCommandOptions,
  stop: Promise<unknown>,
): Promise<void> {
  const store = await ctx.store();
  const quiet = ctx.globals.quiet === true;
  const server = await startServer(store, {
    listen: opts.listen ?? DEFAULT_LISTEN,
    tlsCert: opts.tlsCert,
    tlsKey: opts.tlsKey,
    http: opts.http,
    version: VERSION,
    serverName: hostname(),
    log: quiet ? () => {} : (line) => ctx.io.stderr(`${line}\n`),
  });
  // Images pulled with auto_update follow their source, as on an LXD daemon.
  const updater = startAutoUpdate(store, {
    remotes: (await ctx.plugins()).remotes,
    connect: await updateConnector(ctx),
    log: (line) => ctx.io.stderr(`${line}\n`),
  });
  const count = store.list().filter((r) => r.public).length;
  const err = (s: string) => ctx.io.stderr(`${s}\n`);
  err(`Listening on ${server.url} (${count} public image${count === 1 ? "" : "s"})`);
  if (server.fingerprint) {
    if (server.certificateCreated) err(`Generated a certificate in "${ctx.storeDir}"`);
    err(`Certificate fingerprint: ${server.fingerprint}`);
    err(`Add it with: lxc remote add NAME https://${hostname()}:${server.port} --public`);
  }
  await stop;
  updater.stop();
  err("Shutting down: waiting for requests in flight");
  await server.close();
}

export async function action(ctx: CommandContext, opts: ServeCommandOptions): Promise<void> {
  await serve(ctx, opts, signalled());
}
