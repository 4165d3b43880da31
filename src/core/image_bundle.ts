/**
 * Reading metadata.yaml and templates/ out of an image's metadata tarball (or unified file)
 * without unpacking it: what `imago template render` and the unpack of a split image need.
 * Templates are held in memory, so they are capped as metadata.yaml is.
 */
import { annotate, ImagoError, InvalidInputError } from "./errors.ts";
import { decompressed } from "./decompress.ts";
import { METADATA_MAX } from "./inspect.ts";
import { parseMetadata } from "./metadata.ts";
import { fileStream, readAll } from "./streams.ts";
import { scanTar, type TarEntry } from "./tar.ts";
import type { TemplateBundle } from "./templates.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

const TEMPLATE_MAX = 1 << 20;
const TEMPLATES_TOTAL_MAX = 16 << 20;

/** Collects metadata.yaml and templates/<file> from tar entries; `action` starts errors. */
export class BundleCollector {
  readonly #action: string;
  #metadata?: Uint8Array;
  readonly #templates = new Map<string, Uint8Array>();
  #total = 0;

  constructor(action: string) {
    this.#action = action;
  }

  /** Keeps the entry when it is metadata.yaml or a template file; skips anything else. */
  async add(e: TarEntry): Promise<void> {
    const file = e.type === "file" || e.type === "contiguous-file";
    const bad = (detail: string) => new InvalidInputError(`${this.#action}: ${detail}`);
    if (e.name === "metadata.yaml") {
      if (this.#metadata) throw bad("the image has more than one metadata.yaml");
      if (!file) throw bad("metadata.yaml is not a regular file");
      if (e.size > METADATA_MAX) throw bad("metadata.yaml is larger than 1 MiB");
      this.#metadata = await readAll(e.body(), METADATA_MAX, "metadata.yaml");
      return;
    }
    const m = /^templates\/([^/]+)$/.exec(e.name);
    if (!m || !file) return;
    this.#total += e.size;
    if (e.size > TEMPLATE_MAX || this.#total > TEMPLATES_TOTAL_MAX) {
      throw bad(`template "${m[1]}" is too large: the limits are 1 MiB each, 16 MiB in all`);
    }
    this.#templates.set(m[1], await readAll(e.body(), TEMPLATE_MAX, `template "${m[1]}"`));
  }

  /** The bundle, from what was collected (or given: a unified unpack reads its own). */
  finish(metadata = this.#metadata, templates = this.#templates): TemplateBundle {
    if (!metadata) throw new InvalidInputError(`${this.#action}: metadata.yaml is missing`);
    try {
      return { metadata: parseMetadata(metadata), templates };
    } catch (err) {
      throw err instanceof ImagoError ? annotate(err, this.#action) : err;
    }
  }
}

/** metadata.yaml and templates of the tarball at `path` (any compression). */
export async function readBundle(
  path: string,
  compressors: Registry<Compressor>,
  label: string,
  action: string,
): Promise<TemplateBundle> {
  const c = new BundleCollector(action);
  const tar = await decompressed(fileStream(path), compressors, label, action);
  await scanTar(tar, (e) => c.add(e), { action });
  return c.finish();
}
