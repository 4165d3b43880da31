/**
 * The boundary around external plugin code: every call into a loaded plugin goes through these
 * wrappers, so a plain `Error("boom")` from a plugin reaches the user as one PluginError naming
 * the plugin (`Plugin "dir" (remote protocol) failed: boom`) instead of an "Internal error".
 * ImagoErrors a plugin throws pass through unchanged. Built-ins are not wrapped: their plain
 * errors are imago's own bugs.
 */
import { ImagoError, PluginError } from "../core/errors.ts";
import { mapErrors } from "../core/streams.ts";
import type { Compressor, Remote, RemoteImageFiles, RemoteProtocol } from "./types.ts";

/** `err` as thrown out of the plugin `name`: ImagoErrors as they are, the rest as PluginError. */
export function pluginFailure(err: unknown, name: string, kind: string): unknown {
  if (err instanceof ImagoError) return err;
  const detail = err instanceof Error ? err.message || err.name : String(err);
  return new PluginError(`Plugin "${name}" (${kind}) failed: ${detail}`, { cause: err });
}

/** `fn` with what it throws (or rejects with) converted by `fail`. */
function guarded<A extends unknown[], R>(
  fn: (...args: A) => R,
  fail: (err: unknown) => unknown,
): (...args: A) => R {
  return (...args) => {
    let result: R;
    try {
      result = fn(...args);
    } catch (err) {
      throw fail(err);
    }
    if (result instanceof Promise) return result.catch((err) => Promise.reject(fail(err))) as R;
    return result;
  };
}

function guardFiles(files: RemoteImageFiles, fail: (err: unknown) => unknown): RemoteImageFiles {
  const file = (f: RemoteImageFiles["metadata"]) => ({
    ...f,
    stream: mapErrors(f.stream, fail),
  });
  return { ...files, metadata: file(files.metadata), rootfs: files.rootfs && file(files.rootfs) };
}

function guardRemote(remote: Remote, fail: (err: unknown) => unknown): Remote {
  const fetch = guarded(remote.fetch.bind(remote), fail);
  const close = remote.close && guarded(remote.close.bind(remote), fail);
  return {
    async *list(signal) {
      try {
        yield* remote.list(signal);
      } catch (err) {
        throw fail(err);
      }
    },
    resolve: guarded(remote.resolve.bind(remote), fail),
    fetch: async (image, signal) => guardFiles(await fetch(image, signal), fail),
    ...(close && { close }),
  };
}

/** An external remote protocol whose calls, remotes and download streams are guarded. */
export function guardRemoteProtocol(protocol: RemoteProtocol): RemoteProtocol {
  const fail = (err: unknown) => pluginFailure(err, protocol.name, "remote protocol");
  const connect = guarded(protocol.connect.bind(protocol), fail);
  return {
    kind: "remote",
    name: protocol.name,
    connect: async (url, opts) => guardRemote(await connect(url, opts), fail),
  };
}

/**
 * An external compressor whose calls are guarded. Errors inside its decompression stream are
 * left alone: they mean corrupt input, which decompress.ts reports naming the file.
 */
export function guardCompressor(compressor: Compressor): Compressor {
  const fail = (err: unknown) => pluginFailure(err, compressor.name, "compressor");
  const compress = compressor.compress && guarded(compressor.compress.bind(compressor), fail);
  return {
    kind: "compressor",
    name: compressor.name,
    extension: compressor.extension,
    matches: guarded(compressor.matches.bind(compressor), fail),
    decompress: guarded(compressor.decompress.bind(compressor), fail),
    ...(compress && {
      compress: (level?: number) => {
        const t = compress(level);
        return { writable: t.writable, readable: mapErrors(t.readable, fail) };
      },
    }),
  };
}
