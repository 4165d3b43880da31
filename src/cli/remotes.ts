/**
 * What commands share about remotes: reading `REMOTE:REF` (only a configured remote name
 * counts as a prefix, so local aliases with colons keep working), connecting to a configured
 * remote through its protocol plugin with its pinned certificate, and the client certificate.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { annotate, ImagoError } from "../core/errors.ts";
import type { UpdateSource } from "../core/model.ts";
import { type Connector, connectorFor } from "../core/refresh.ts";
import { LOCAL, type RemoteEntry, RemotesConfig } from "../core/remotes_config.ts";
import { pluginOrFailure } from "../plugins/loader.ts";
import type { Remote, RemoteImage, RemoteProtocol } from "../plugins/types.ts";
import { makeSelfSigned } from "../serve/tls.ts";
import type { CommandContext } from "./context.ts";

export interface RemoteRef {
  /** The remote's name; "local" is the store. */
  remote: string;
  ref: string;
  /** True when the text named the remote explicitly. */
  explicit: boolean;
}

export function loadRemotes(ctx: CommandContext): RemotesConfig {
  return RemotesConfig.load(ctx.configDir);
}

/** "NAME:REF" when NAME is a configured remote, else REF on the default remote. */
export function splitRemote(text: string, config: RemotesConfig): RemoteRef {
  const colon = text.indexOf(":");
  if (colon > 0 && config.has(text.slice(0, colon))) {
    return { remote: text.slice(0, colon), ref: text.slice(colon + 1), explicit: true };
  }
  return { remote: config.defaultRemote, ref: text, explicit: false };
}

export function isLocal(name: string): boolean {
  return name === LOCAL;
}

/** The client certificate and key, made on first need (as lxc makes client.crt). */
export function clientIdentity(config: RemotesConfig): { cert: string; key: string; path: string } {
  const cert = join(config.dir, "client.crt");
  const key = join(config.dir, "client.key");
  if (!existsSync(cert) || !existsSync(key)) {
    mkdirSync(config.dir, { recursive: true, mode: 0o700 });
    let user = "imago";
    try {
      user = userInfo().username;
    } catch {
      // No passwd entry: keep the generic name.
    }
    const made = makeSelfSigned([hostname()], { commonName: `${user}@${hostname()}` });
    writeFileSync(`${key}.new`, made.key, { mode: 0o600 });
    writeFileSync(`${cert}.new`, made.cert, { mode: 0o644 });
    renameSync(`${key}.new`, key);
    renameSync(`${cert}.new`, cert);
  }
  return { cert: readFileSync(cert, "utf8"), key: readFileSync(key, "utf8"), path: cert };
}

export interface OpenRemote {
  entry: RemoteEntry;
  protocol: RemoteProtocol;
  remote: Remote;
  certificate?: string;
}

/** The protocol plugin of a remote; a plugin that failed to load is named with its reason. */
export async function protocolOf(ctx: CommandContext, name: string): Promise<RemoteProtocol> {
  const plugins = await ctx.plugins();
  return pluginOrFailure(plugins.remotes, name, plugins.failures);
}

/** Connects to the configured remote `name` (not "local"). */
export async function openRemote(
  ctx: CommandContext,
  config: RemotesConfig,
  name: string,
): Promise<OpenRemote> {
  const entry = config.get(name);
  const protocol = await protocolOf(ctx, entry.protocol);
  const certificate = config.certificate(name);
  const identity = entry.auth_type === "tls" ? clientIdentity(config) : undefined;
  ctx.log.debug(`Connecting to remote "${name}" (${entry.addr}, ${entry.protocol})`);
  try {
    const remote = await protocol.connect(new URL(entry.addr), {
      certificate,
      clientCert: identity?.cert,
      clientKey: identity?.key,
    });
    return { entry, protocol, remote, certificate };
  } catch (err) {
    throw err instanceof ImagoError ? annotate(err, `Cannot use remote "${name}"`) : err;
  }
}

/** Runs `fn` on an open remote, closing it afterwards. */
export async function withRemote<T>(
  ctx: CommandContext,
  config: RemotesConfig,
  name: string,
  fn: (open: OpenRemote) => Promise<T>,
): Promise<T> {
  const open = await openRemote(ctx, config, name);
  try {
    return await fn(open);
  } finally {
    await open.remote.close?.();
  }
}

/** The source LXD records for an image pulled by alias (none when pulled by fingerprint). */
export function updateSource(
  open: OpenRemote,
  ref: string,
  image: RemoteImage,
): UpdateSource | undefined {
  if (ref === image.fingerprint) return undefined;
  return {
    alias: ref,
    certificate: open.certificate ?? "",
    protocol: open.entry.protocol,
    server: open.entry.addr,
    image_type: image.type,
  };
}

/**
 * How refresh reaches an image's recorded source: pinned certificate from the source, plus our
 * client certificate when the source is a configured remote that uses one (as LXD's daemon
 * presents its own).
 */
export async function updateConnector(ctx: CommandContext): Promise<Connector> {
  const { remotes } = await ctx.plugins();
  const base = connectorFor(remotes);
  const config = loadRemotes(ctx);
  const authed = new Set(
    config.list().filter((r) => r.auth_type === "tls").map((r) => r.addr.replace(/\/+$/, "")),
  );
  return (src: UpdateSource, signal?: AbortSignal) => {
    if (!authed.has(src.server.replace(/\/+$/, ""))) return base(src, signal);
    const id = clientIdentity(config);
    return connectorFor(remotes, { clientCert: id.cert, clientKey: id.key })(src, signal);
  };
}
