/**
 * `imago import https://…`: a static URL image (protocol "direct", as `lxc image import URL`).
 * The server is trusted through the system CAs, or the pinned certificate of a configured
 * remote at the same origin.
 */
import { toApiImage } from "../core/api_image.ts";
import { hostArch } from "../core/arch.ts";
import { UsageError } from "../core/errors.ts";
import { pullImage } from "../core/pull.ts";
import type { CommandContext } from "./context.ts";
import { renderJson, renderYaml } from "./output.ts";
import { loadRemotes, protocolOf } from "./remotes.ts";

export interface UrlImportOptions {
  alias?: string[];
  public?: boolean;
  format?: string;
}

/** Whether an import argument is a URL rather than a file. */
export function isUrl(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text);
}

/** The pinned certificate of a configured remote serving `url`'s origin, if any. */
function pinFor(ctx: CommandContext, url: URL): string | undefined {
  const config = loadRemotes(ctx);
  for (const r of config.list()) {
    let origin: string;
    try {
      origin = new URL(r.addr).origin;
    } catch {
      continue;
    }
    if (origin === url.origin) return config.certificate(r.name);
  }
}

export async function importUrl(
  ctx: CommandContext,
  text: string,
  opts: UrlImportOptions,
): Promise<void> {
  const url = new URL(text);
  if (url.protocol !== "https:") {
    throw new UsageError(`Only https:// is supported for remote image import: "${text}"`);
  }
  const direct = await protocolOf(ctx, "direct");
  const remote = await direct.connect(url, { certificate: pinFor(ctx, url) });
  const store = await ctx.store();
  const image = await remote.resolve("", { arch: hostArch() });
  const progress = ctx.progress(`Importing ${image.filename}`);
  let result;
  try {
    result = await pullImage(store, remote, image, {
      aliases: (opts.alias ?? []).map((name) => ({ name, description: "" })),
      public: opts.public ?? false,
      onProgress: (bytes) => progress.update(bytes),
    });
  } finally {
    progress.done();
    await remote.close?.();
  }
  const { image: rec, created } = result;
  if (opts.format === "json") ctx.print(renderJson(toApiImage(rec)));
  else if (opts.format === "yaml") ctx.print(renderYaml(toApiImage(rec)));
  else if (!ctx.globals.quiet) {
    ctx.print(
      created
        ? `Image imported with fingerprint: ${rec.fingerprint}`
        : `Image already in store with fingerprint: ${rec.fingerprint}`,
    );
  }
}
