/**
 * Cache expiry, as LXD's daily prune task does it: a cached image (pulled implicitly) that has
 * not been used for images.remote_cache_expiry days is deleted. The clock starts at last use,
 * or at the upload when it was never used; expires_at plays no part (LXD 5.0 ignores it too).
 */
import type { ImageRecord } from "./model.ts";
import { getNumber } from "./settings.ts";
import type { Store } from "./store.ts";

const DAY_MS = 86_400_000;

/** When the image was last used, or uploaded when never used (ms since the epoch). */
export function lastUse(rec: ImageRecord): number {
  const used = Date.parse(rec.last_used_at);
  return used > 0 ? used : Date.parse(rec.uploaded_at);
}

/** Cached images whose time is up at `now`; none when the expiry is 0 or less. */
export function expiredCached(store: Store, now = Date.now()): ImageRecord[] {
  const days = getNumber(store, "images.remote_cache_expiry");
  if (!(days > 0)) return [];
  const limit = now - days * DAY_MS;
  return store.list().filter((r) => r.cached && lastUse(r) < limit);
}

/** Deletes the expired cached images; returns what was deleted. */
export async function pruneCached(store: Store, now = Date.now()): Promise<ImageRecord[]> {
  const gone = expiredCached(store, now);
  for (const rec of gone) await store.delete(rec.fingerprint);
  return gone;
}
