/** Compression detection by magic bytes (LXD's DetectCompressionFile order). */
import { InvalidInputError } from "../core/errors.ts";
import type { Registry } from "./registry.ts";
import type { Compressor } from "./types.ts";

/** How many leading bytes detection needs: the ustar magic ends at offset 262. */
export const DETECT_BYTES = 263;

/**
 * The compressor whose magic matches `head`; "none" last, since compressed data may happen to
 * hold "ustar" at 257. Throws InvalidInputError naming `what` when nothing matches.
 */
export function detectCompressor(
  head: Uint8Array,
  registry: Registry<Compressor>,
  what: string,
): Compressor {
  const all = registry.list();
  const found = all.find((c) => c.name !== "none" && c.matches(head)) ??
    all.find((c) => c.name === "none" && c.matches(head));
  if (!found) {
    throw new InvalidInputError(
      `Cannot read ${what}: unsupported compression (known: ${registry.names().join(", ")})`,
    );
  }
  return found;
}
