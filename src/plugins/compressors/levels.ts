/** Compression level validation shared by the compressors. */
import { UsageError } from "../../core/errors.ts";

/** `level` or the default, checked against `min`..`max`. */
export function checkLevel(
  format: string,
  level: number | undefined,
  min: number,
  max: number,
  fallback: number,
): number {
  const l = level ?? fallback;
  if (!Number.isInteger(l) || l < min || l > max) {
    throw new UsageError(`Cannot compress ${format}: level "${l}" is not in ${min}-${max}`);
  }
  return l;
}
