/**
 * `imago list` filters, matched as lxc 5.0 matches them client-side: every filter must match.
 * A filter without "=" is a substring of an alias name or of the full fingerprint; `k=v`
 * matches a property whose dotted key k prefixes segment by segment, with v as a regexp
 * anchored ^…$ (unless it has ^ or $), or a top-level field that prints as exactly v.
 */
import type { ApiImage } from "../core/api_image.ts";

/** lxc's dotPrefixMatch: same number of segments, each segment of `short` a prefix. */
export function dotPrefixMatch(short: string, full: string): boolean {
  const s = short.split(".");
  const f = full.split(".");
  return s.length === f.length && f.every((seg, i) => seg.startsWith(s[i]));
}

function valueMatches(pattern: string, value: string): boolean {
  const src = pattern.includes("^") || pattern.includes("$") ? pattern : `^${pattern}$`;
  let re: RegExp;
  try {
    re = new RegExp(src);
  } catch {
    return pattern === value; // not a regexp: compare literally, as lxc does
  }
  return re.test(value);
}

function fieldText(v: unknown): string | undefined {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined;
}

function matchOne(filter: string, img: ApiImage): boolean {
  const eq = filter.indexOf("=");
  if (eq < 0) {
    return img.aliases.some((a) => a.name.includes(filter)) || img.fingerprint.includes(filter);
  }
  const key = filter.slice(0, eq);
  const value = filter.slice(eq + 1);
  for (const [k, v] of Object.entries(img.properties)) {
    if (dotPrefixMatch(key, k) && valueMatches(value, v)) return true;
  }
  return fieldText((img as unknown as Record<string, unknown>)[key]) === value;
}

/** True when the image passes every filter (no filters: always). */
export function imageMatches(filters: string[], img: ApiImage): boolean {
  return filters.every((f) => matchOne(f, img));
}
