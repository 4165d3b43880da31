/**
 * What every command action gets: injected I/O (so tests run commands in-process), the global
 * options, a lazily opened store, a logger and a progress factory. Every command file exports
 * `async function action(ctx: CommandContext, ...args, opts)`.
 */
import type { Store } from "../core/store.ts";
import type { PluginFailure } from "../plugins/loader.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor, RemoteProtocol } from "../plugins/types.ts";
import type { Logger } from "./log.ts";
import type { Progress } from "./progress.ts";

/** The process's streams and environment, replaceable in tests. */
export interface CliIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stdin: ReadableStream<Uint8Array> | undefined;
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  env: Record<string, string | undefined>;
}

/** Options every command accepts (declared on the program). */
export interface GlobalOptions {
  store?: string;
  quiet?: boolean;
  verbose?: boolean;
  /** Folder of external plugins (default: <config>/plugins). */
  plugins?: string;
}

/** The plugin registries: built-ins plus the external plugins that loaded. */
export interface Plugins {
  compressors: Registry<Compressor>;
  remotes: Registry<RemoteProtocol>;
  /** Plugin files that failed to load (already warned about). */
  failures: PluginFailure[];
}

export interface CommandContext {
  readonly io: CliIO;
  readonly globals: GlobalOptions;
  readonly log: Logger;
  /** The store folder: --store, else IMAGO_DIR, else the default. */
  readonly storeDir: string;
  /** imago's config folder: $XDG_CONFIG_HOME/imago (remotes, certificates, plugins). */
  readonly configDir: string;
  /** Loads the plugins on first use (the store's compressors include them). */
  plugins(): Promise<Plugins>;
  /** Opens the store on first use; run() closes it when the command ends. */
  store(opts?: { sweep?: boolean }): Promise<Store>;
  /** Writes one line (or several) of command output to stdout. */
  print(text: string): void;
  /** A progress bar on stderr; inert unless stderr is a TTY and --quiet is off. */
  progress(label: string, total?: number): Progress;
}

/** The signature of every command module's `action` export. */
export type CommandAction = (ctx: CommandContext, ...args: never[]) => Promise<void>;
