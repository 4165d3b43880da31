/**
 * External plugins: every `*.js` / `*.mjs` file of a folder (`--plugins DIR`, else
 * $XDG_CONFIG_HOME/imago/plugins), loaded in sorted order through runtime.loadModule (so the
 * built binary can load them too). Each file default-exports `{ apiVersion: 1, compressors?,
 * remotes? }`; its shape is checked and its plugins registered all together or not at all. A
 * broken file is reported and skipped, so one bad plugin does not break every command; asking
 * for one of its plugins by name later gives an error naming the file and the reason. Loaded
 * plugins are wrapped by guard.ts, so their errors name them too.
 */
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ImagoError, NotFoundError, PluginError } from "../core/errors.ts";
import { loadModule } from "../core/runtime.ts";
import { guardCompressor, guardRemoteProtocol } from "./guard.ts";
import type { Registry } from "./registry.ts";
import type { Compressor, RemoteProtocol } from "./types.ts";

export interface PluginRegistries {
  compressors: Registry<Compressor>;
  remotes: Registry<RemoteProtocol>;
}

/** A plugin file that could not be used. */
export interface PluginFailure {
  file: string;
  /** Names the file claimed, when its export could be read that far. */
  names: string[];
  error: PluginError;
}

export interface LoadResult {
  loaded: string[];
  failures: PluginFailure[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const fn = (o: Record<string, unknown>, key: string) => typeof o[key] === "function";

/** Why `c` is not a Compressor, or undefined when it is one. */
function compressorProblem(c: unknown): string | undefined {
  if (!isObject(c)) return "is not an object";
  if (c.kind !== "compressor") return `has kind ${JSON.stringify(c.kind)}, not "compressor"`;
  if (typeof c.name !== "string" || !c.name) return "has no name";
  if (typeof c.extension !== "string") return "has no extension string";
  if (!fn(c, "matches") || !fn(c, "decompress")) return "lacks matches() or decompress()";
  if (c.compress !== undefined && !fn(c, "compress")) return "has a compress that is no function";
}

/** Why `r` is not a RemoteProtocol, or undefined when it is one. */
function remoteProblem(r: unknown): string | undefined {
  if (!isObject(r)) return "is not an object";
  if (r.kind !== "remote") return `has kind ${JSON.stringify(r.kind)}, not "remote"`;
  if (typeof r.name !== "string" || !r.name) return "has no name";
  if (!fn(r, "connect")) return "lacks connect()";
}

function list(mod: Record<string, unknown>, key: string): unknown[] {
  const v = mod[key];
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`"${key}" is not an array`);
  return v;
}

/** The plugin names an export claims, read as far as possible (for failure reports). */
function claimedNames(mod: unknown): string[] {
  if (!isObject(mod)) return [];
  return ["compressors", "remotes"].flatMap((k) =>
    Array.isArray(mod[k])
      ? (mod[k] as unknown[]).map((p) => isObject(p) && typeof p.name === "string" ? p.name : "")
        .filter((n) => n)
      : []
  );
}

/** Checks one module's default export and registers its plugins (all or none). */
export function registerModule(ns: unknown, file: string, reg: PluginRegistries): void {
  // The SEA's require() route gives the namespace with an extra __esModule key; only
  // `default` matters either way.
  const mod = isObject(ns) ? ns.default : undefined;
  if (!isObject(mod)) throw new Error("it has no default export object");
  if (mod.apiVersion !== 1) {
    throw new Error(`apiVersion is ${JSON.stringify(mod.apiVersion)}, this imago supports 1`);
  }
  const compressors = list(mod, "compressors");
  const remotes = list(mod, "remotes");
  if (compressors.length + remotes.length === 0) throw new Error("it exports no plugins");
  const seen = new Set<string>();
  const check = (items: unknown[], what: string, problem: (x: unknown) => string | undefined) => {
    const registry = what === "compressor" ? reg.compressors : reg.remotes;
    items.forEach((item, i) => {
      const p = problem(item);
      if (p) throw new Error(`${what} ${i + 1} ${p}`);
      const name = (item as { name: string }).name;
      const other = registry.origin(name) ?? (seen.has(`${what}:${name}`) ? file : undefined);
      if (other) throw new Error(`${what} "${name}" is already registered by ${other}`);
      seen.add(`${what}:${name}`);
    });
  };
  check(compressors, "compressor", compressorProblem);
  check(remotes, "remote protocol", remoteProblem);
  // Registered behind guards, so errors thrown by plugin code name the plugin (guard.ts).
  for (const c of compressors) reg.compressors.register(guardCompressor(c as Compressor), file);
  for (const r of remotes) reg.remotes.register(guardRemoteProtocol(r as RemoteProtocol), file);
}

/** $XDG_CONFIG_HOME/imago/plugins (or ~/.config/imago/plugins). */
export function defaultPluginDir(configDir: string): string {
  return join(configDir, "plugins");
}

/**
 * Loads every plugin file of `dir` into the registries. A missing folder is fine unless
 * `explicit` (the user named it). Broken files are returned as failures and passed to `warn`.
 */
export async function loadPlugins(
  dir: string,
  reg: PluginRegistries,
  opts: { explicit?: boolean; warn?: (msg: string) => void } = {},
): Promise<LoadResult> {
  const result: LoadResult = { loaded: [], failures: [] };
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    if (opts.explicit) throw new NotFoundError(`Cannot load plugins: folder "${dir}" not found`);
    return result;
  }
  const names = (await readdir(dir)).filter((n) => /\.m?js$/.test(n)).sort();
  for (const name of names) {
    const file = join(dir, name);
    let ns: unknown;
    try {
      ns = await loadModule(file);
      registerModule(ns, file, reg);
      result.loaded.push(file);
    } catch (err) {
      const detail = err instanceof Error ? err.message.split("\n")[0] : String(err);
      const error = new PluginError(`Cannot load plugin "${file}": ${detail}`, { cause: err });
      result.failures.push({ file, names: claimedNames(isObject(ns) ? ns.default : ns), error });
      opts.warn?.(`${error.message}: skipped`);
    }
  }
  return result;
}

/**
 * `registry.get(name)`, but when `name` is unknown and a plugin that failed to load claimed it
 * (or could not be read far enough to tell), the error names that file and its reason.
 */
export function pluginOrFailure<T extends { name: string }>(
  registry: Registry<T>,
  name: string,
  failures: PluginFailure[],
): T {
  if (registry.has(name)) return registry.get(name);
  const claimed = failures.find((f) => f.names.includes(name));
  if (claimed) throw claimed.error;
  try {
    return registry.get(name);
  } catch (err) {
    const unknown = failures.filter((f) => f.names.length === 0);
    if (!(err instanceof ImagoError) || unknown.length === 0) throw err;
    throw new NotFoundError(
      `${err.message}; plugins that failed to load: ` +
        unknown.map((f) => f.error.message.replace(/^Cannot load plugin /, "")).join("; "),
    );
  }
}
