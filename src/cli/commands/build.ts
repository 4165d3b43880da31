/** `imago build DIR`: packs an image folder with GNU tar and imports it into the store. */
import { toApiImage } from "../../core/api_image.ts";
import { buildImage, DEFAULT_BUILD_COMPRESSION } from "../../core/build.ts";
import type { CommandContext } from "../context.ts";
import { renderJson, renderYaml } from "../output.ts";

export interface BuildCommandOptions {
  split?: boolean;
  compression?: string;
  alias?: string[];
  public?: boolean;
  /** json or yaml print the image object, as `import` does (when run.ts declares --format). */
  format?: string;
}

export async function action(
  ctx: CommandContext,
  dir: string,
  opts: BuildCommandOptions = {},
): Promise<void> {
  const store = await ctx.store();
  const built = await buildImage(dir, {
    split: opts.split ?? false,
    // --compression, else the store's images.compression_algorithm (default gzip), as publish.
    compression: opts.compression ?? store.config("images.compression_algorithm") ??
      DEFAULT_BUILD_COMPRESSION,
    compressors: store.compressors,
  });
  // The compressed size is unknown until the end, so progress shows bytes and rate only.
  const progress = ctx.progress("Building image");
  let result;
  try {
    result = await store.import(built.metadata, built.rootfs, {
      aliases: (opts.alias ?? []).map((name) => ({ name, description: "" })),
      public: opts.public ?? false,
      onProgress: (bytes) => progress.update(bytes),
      // Conflicts name the folder, not the made-up tarball name.
      action: built.action,
    });
  } finally {
    progress.done();
    built.abort();
  }
  const image = result.image;
  if (opts.format === "json") ctx.print(renderJson(toApiImage(image)));
  else if (opts.format === "yaml") ctx.print(renderYaml(toApiImage(image)));
  else if (!ctx.globals.quiet) ctx.print(`Image built with fingerprint: ${image.fingerprint}`);
}
