/**
 * Auto-update, as LXD does it: an image pulled by alias remembers its source (update_source);
 * refreshing resolves that alias again and, when it now names another fingerprint, pulls the
 * new image, moves the aliases over, carries public/auto_update/cached/last-use state, and
 * deletes the old image. startAutoUpdate runs it every images.auto_update_interval hours.
 */
import { ImagoError, UsageError } from "./errors.ts";
import type { ImageRecord, UpdateSource } from "./model.ts";
import { pullImage } from "./pull.ts";
import { getNumber } from "./settings.ts";
import type { Store } from "./store.ts";
import type { Registry } from "../plugins/registry.ts";
import type { ConnectOptions, Remote, RemoteProtocol } from "../plugins/types.ts";

/** Opens the remote an update_source names. */
export type Connector = (source: UpdateSource, signal?: AbortSignal) => Promise<Remote>;

export interface RefreshResult {
  /** The image that was checked (its old fingerprint). */
  fingerprint: string;
  status: "updated" | "current" | "failed";
  /** Set when updated. */
  newFingerprint?: string;
  error?: Error;
}

/** A Connector over the protocol registry, pinning the certificate the source recorded. */
export function connectorFor(
  remotes: Registry<RemoteProtocol>,
  extra: Omit<ConnectOptions, "certificate" | "signal"> = {},
): Connector {
  return (source, signal) =>
    remotes.get(source.protocol || "lxd").connect(new URL(source.server), {
      ...extra,
      certificate: source.certificate || undefined,
      signal,
    });
}

/** Checks one image against its source and updates it when the source moved on. */
export async function refreshImage(
  store: Store,
  rec: ImageRecord,
  connect: Connector,
  opts: { signal?: AbortSignal; onProgress?: (bytes: number, total: number) => void } = {},
): Promise<RefreshResult> {
  const src = rec.update_source;
  if (!src) {
    throw new UsageError(
      `Cannot refresh "${rec.fingerprint.slice(0, 12)}": it has no source (it was not pulled ` +
        `from a remote by alias)`,
    );
  }
  const remote = await connect(src, opts.signal);
  try {
    const type = src.image_type === "virtual-machine" ? "virtual-machine" : rec.type;
    const latest = await remote.resolve(src.alias, { arch: rec.architecture, type });
    if (latest.fingerprint === rec.fingerprint) {
      return { fingerprint: rec.fingerprint, status: "current" };
    }
    const pulled = await pullImage(store, remote, latest, {
      public: rec.public,
      auto_update: rec.auto_update,
      cached: rec.cached,
      update_source: src,
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
    const fresh = pulled.image;
    for (const a of rec.aliases) store.setAlias(a.name, fresh.fingerprint, a.description);
    const now = store.get(fresh.fingerprint)!;
    store.records.update({
      ...now,
      public: rec.public,
      auto_update: rec.auto_update,
      cached: rec.cached,
      profiles: rec.profiles,
      last_used_at: rec.last_used_at,
      update_source: src,
    });
    await store.delete(rec.fingerprint);
    return { fingerprint: rec.fingerprint, status: "updated", newFingerprint: fresh.fingerprint };
  } finally {
    await remote.close?.();
  }
}

/**
 * Refreshes the images named by `refs` (each must have a source), or else every image with
 * auto_update and a source. Failures are collected per image, not thrown.
 */
export async function refreshImages(
  store: Store,
  connect: Connector,
  opts: { refs?: string[]; signal?: AbortSignal } = {},
): Promise<RefreshResult[]> {
  const targets = opts.refs?.length
    ? opts.refs.map((r) => store.resolve(r))
    : store.list().filter((r) => r.auto_update && r.update_source);
  const out: RefreshResult[] = [];
  for (const rec of targets) {
    try {
      out.push(await refreshImage(store, rec, connect, { signal: opts.signal }));
    } catch (err) {
      if (opts.refs?.length && err instanceof UsageError) throw err;
      const error = err instanceof Error ? err : new ImagoError(String(err));
      out.push({ fingerprint: rec.fingerprint, status: "failed", error });
    }
  }
  return out;
}

export interface AutoUpdateOptions {
  remotes: Registry<RemoteProtocol>;
  /** Where to report what happened (one line each). */
  log?: (line: string) => void;
  /** How often to look at the interval setting (default hourly, as LXD's task). */
  checkEveryMs?: number;
  /** Period instead of the setting (tests); 0 disables. */
  intervalMs?: number;
  connect?: Connector;
}

/**
 * Every images.auto_update_interval hours (read at each check; 0 disables), refreshes the
 * auto-update images. The timer does not keep the process alive; `stop()` ends it.
 */
export function startAutoUpdate(store: Store, opts: AutoUpdateOptions): { stop(): void } {
  const connect = opts.connect ?? connectorFor(opts.remotes);
  const log = opts.log ?? (() => {});
  const abort = new AbortController();
  let last = Date.now();
  let running = false;
  const tick = async () => {
    const period = opts.intervalMs ??
      getNumber(store, "images.auto_update_interval") * 3_600_000;
    if (running || !(period > 0) || Date.now() - last < period) return;
    running = true;
    last = Date.now();
    try {
      for (const r of await refreshImages(store, connect, { signal: abort.signal })) {
        if (r.status === "updated") {
          log(`Updated image ${r.fingerprint.slice(0, 12)} to ${r.newFingerprint!.slice(0, 12)}`);
        } else if (r.status === "failed") {
          log(`Warning: cannot update image ${r.fingerprint.slice(0, 12)}: ${r.error?.message}`);
        }
      }
    } catch (err) {
      log(`Warning: auto-update failed: ${(err as Error).message}`);
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.checkEveryMs ?? 3_600_000);
  (timer as { unref?: () => void }).unref?.();
  return {
    stop() {
      clearInterval(timer);
      abort.abort();
    },
  };
}
