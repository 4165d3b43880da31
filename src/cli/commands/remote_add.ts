/**
 * `imago remote add NAME URL [--protocol P] [--public] [--accept-certificate]`, following
 * `lxc remote add`: an LXD remote is asked for GET /1.0 with the system CAs; when that fails
 * its certificate is fetched, its fingerprint shown and (after --accept-certificate or a "y" on
 * a terminal) pinned in servercerts/NAME.crt, and GET /1.0 must then work with the pin.
 * Simplestreams and plugin remotes are saved without contacting anything.
 */
import { ConflictError, ImagoError, RemoteError, UsageError } from "../../core/errors.ts";
import { checkRemoteName, type RemoteConfig } from "../../core/remotes_config.ts";
import { grabCertificate } from "../../plugins/remotes/http.ts";
import type { LxdRemote } from "../../plugins/remotes/lxd.ts";
import type { ServerInfo } from "../../plugins/remotes/lxd_api.ts";
import type { CommandContext } from "../context.ts";
import { clientIdentity, loadRemotes, protocolOf } from "../remotes.ts";

export interface RemoteAddOptions {
  protocol?: string;
  public?: boolean;
  acceptCertificate?: boolean;
}

/** Reads one line from stdin (the y/n answer). */
async function readLine(stdin: ReadableStream<Uint8Array> | undefined): Promise<string> {
  if (!stdin) return "";
  const reader = stdin.getReader();
  const dec = new TextDecoder();
  let text = "";
  try {
    while (!text.includes("\n")) {
      const r = await reader.read();
      if (r.done) break;
      text += dec.decode(r.value, { stream: true });
    }
  } finally {
    reader.releaseLock();
  }
  return text.split("\n")[0].trim();
}

/** https://HOST[:PORT] with lxc's default port 8443. */
function lxdUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text.includes("://") ? text : `https://${text}`);
  } catch {
    throw new UsageError(`Invalid URL "${text}"`);
  }
  if (url.protocol !== "https:") {
    throw new UsageError(`Invalid URL scheme "${url.protocol.slice(0, -1)}" in "${text}"`);
  }
  if (!url.port) url.port = "8443";
  return url;
}

async function confirm(ctx: CommandContext, fingerprint: string, name: string): Promise<void> {
  if (!ctx.io.stdinIsTTY) {
    throw new UsageError(
      `Cannot add remote "${name}": its certificate is not trusted by this system; check the ` +
        `fingerprint above and pass --accept-certificate to pin it`,
    );
  }
  ctx.io.stderr("ok (y/n/[fingerprint])? ");
  const answer = (await readLine(ctx.io.stdin)).toLowerCase();
  if (answer !== "y" && answer !== "yes" && answer !== fingerprint) {
    throw new ImagoError(`Cannot add remote "${name}": server certificate NACKed by user`);
  }
}

async function addLxd(
  ctx: CommandContext,
  name: string,
  text: string,
  opts: RemoteAddOptions,
): Promise<{ cfg: RemoteConfig; certificate?: string }> {
  const url = lxdUrl(text);
  const config = loadRemotes(ctx);
  const identity = opts.public ? undefined : clientIdentity(config);
  const lxd = await protocolOf(ctx, "lxd");
  const probe = async (certificate?: string): Promise<ServerInfo> => {
    const remote = await lxd.connect(url, {
      certificate,
      clientCert: identity?.cert,
      clientKey: identity?.key,
    }) as LxdRemote;
    return await remote.server();
  };
  let certificate: string | undefined;
  let info: ServerInfo;
  try {
    info = await probe();
  } catch (err) {
    if (!(err instanceof RemoteError)) throw err;
    ctx.log.debug(`GET /1.0 with the system CAs failed: ${err.message}`);
    const grabbed = await grabCertificate(url);
    ctx.print(`Certificate fingerprint: ${grabbed.fingerprint}`);
    if (!opts.acceptCertificate) await confirm(ctx, grabbed.fingerprint, name);
    certificate = grabbed.pem;
    info = await probe(certificate);
  }
  const addr = url.origin;
  // As lxc, an LXD remote is saved without a protocol (empty means lxd).
  if (opts.public || info.public) return { cfg: { addr, public: true }, certificate };
  if (info.auth === "trusted") {
    return { cfg: { addr, public: false, auth_type: "tls" }, certificate };
  }
  throw new ImagoError(
    `Cannot add remote "${name}": the server does not trust this client: add the certificate ` +
      `"${identity?.path}" to its trust store ("lxc config trust add" or "imago trust add") and ` +
      `try again, or use --public for its public images only`,
  );
}

export async function action(
  ctx: CommandContext,
  name: string,
  url: string,
  opts: RemoteAddOptions = {},
): Promise<void> {
  checkRemoteName(name);
  const config = loadRemotes(ctx);
  if (config.has(name)) {
    throw new ConflictError(`Remote "${name}" exists as <${config.get(name).addr}>`);
  }
  const protocol = opts.protocol ?? "lxd";
  await protocolOf(ctx, protocol); // an unknown or broken protocol fails before anything else
  let cfg: RemoteConfig;
  let certificate: string | undefined;
  if (protocol === "lxd") ({ cfg, certificate } = await addLxd(ctx, name, url, opts));
  else {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`Invalid URL "${url}"`);
    }
    if (protocol === "simplestreams" && parsed.protocol !== "https:") {
      throw new UsageError(`Only https URLs are supported for simplestreams: "${url}"`);
    }
    cfg = { addr: url.replace(/\/+$/, ""), protocol, public: true };
  }
  // Loaded again: the certificate prompt may have taken a while.
  const fresh = loadRemotes(ctx);
  fresh.add(name, cfg);
  if (certificate) fresh.saveCertificate(name, certificate);
  fresh.save();
}
