/**
 * `imago import TARBALL [ROOTFS]`: streams a unified or split image into the store; an https://
 * URL is a static URL import (import_url.ts).
 */
import { basename } from "node:path";
import { toApiImage } from "../../core/api_image.ts";
import { UsageError } from "../../core/errors.ts";
import type { ImportCheck } from "../../core/inspect.ts";
import type { CommandContext } from "../context.ts";
import { closableFileStream, inputFile } from "../files.ts";
import { importUrl, isUrl } from "../import_url.ts";
import { renderJson, renderYaml } from "../output.ts";

export interface ImportCommandOptions {
  alias?: string[];
  public?: boolean;
  format?: string;
  check?: ImportCheck;
}

export async function action(
  ctx: CommandContext,
  tarball: string,
  rootfs: string | undefined,
  opts: ImportCommandOptions = {},
): Promise<void> {
  if (isUrl(tarball)) {
    if (rootfs) throw new UsageError(`Cannot import "${tarball}": a URL gives one unified image`);
    return await importUrl(ctx, tarball, opts);
  }
  const what = `Cannot import "${tarball}"`;
  const total = (await inputFile(tarball, what)) +
    (rootfs ? await inputFile(rootfs, `Cannot import "${rootfs}"`) : 0);
  const store = await ctx.store();
  const progress = ctx.progress(`Importing ${basename(rootfs ?? tarball)}`, total);
  // Files are closed here whatever the import did with their streams.
  const inputs = [closableFileStream(tarball), ...(rootfs ? [closableFileStream(rootfs)] : [])];
  let result;
  try {
    result = await store.import(
      { stream: inputs[0].stream, name: tarball },
      rootfs ? { stream: inputs[1].stream, name: rootfs } : undefined,
      {
        aliases: (opts.alias ?? []).map((name) => ({ name, description: "" })),
        public: opts.public ?? false,
        onProgress: (bytes) => progress.update(bytes),
        check: opts.check,
      },
    );
  } finally {
    await Promise.all(inputs.map((i) => i.close()));
    progress.done();
  }
  const { image, created } = result;
  if (opts.format === "json") ctx.print(renderJson(toApiImage(image)));
  else if (opts.format === "yaml") ctx.print(renderYaml(toApiImage(image)));
  else if (!ctx.globals.quiet) {
    ctx.print(
      created
        ? `Image imported with fingerprint: ${image.fingerprint}`
        : `Image already in store with fingerprint: ${image.fingerprint}`,
    );
  }
}
