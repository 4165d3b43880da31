/** Every built-in plugin, listed explicitly (no import side effects). */
import { Registry } from "./registry.ts";
import type { Compressor, RemoteProtocol } from "./types.ts";
import { bzip2 } from "./compressors/bzip2.ts";
import { gzip } from "./compressors/gzip.ts";
import { lzma } from "./compressors/lzma.ts";
import { none } from "./compressors/none.ts";
import { xz } from "./compressors/xz.ts";
import { zstd } from "./compressors/zstd.ts";
import { direct } from "./remotes/direct.ts";
import { lxd } from "./remotes/lxd.ts";
import { simplestreams } from "./remotes/simplestreams/protocol.ts";

/** Sorted by name. */
export const BUILTIN_COMPRESSORS: readonly Compressor[] = [bzip2, gzip, lzma, none, xz, zstd];
export const BUILTIN_REMOTES: readonly RemoteProtocol[] = [direct, lxd, simplestreams];

/** A fresh compressor registry holding the built-ins. */
export function builtinCompressors(): Registry<Compressor> {
  const r = new Registry<Compressor>("compressor");
  for (const c of BUILTIN_COMPRESSORS) r.register(c);
  return r;
}

/** A fresh remote-protocol registry holding the built-ins. */
export function builtinRemotes(): Registry<RemoteProtocol> {
  const r = new Registry<RemoteProtocol>("remote protocol");
  for (const p of BUILTIN_REMOTES) r.register(p);
  return r;
}
