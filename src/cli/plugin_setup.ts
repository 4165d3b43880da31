/**
 * The CLI's plugin registries: the built-ins, then the external plugins of `--plugins DIR` (or
 * <config>/plugins when it exists). A broken plugin file is a warning, not a failure.
 */
import { builtinCompressors, builtinRemotes } from "../plugins/builtin.ts";
import { defaultPluginDir, loadPlugins } from "../plugins/loader.ts";
import type { Plugins } from "./context.ts";
import type { Logger } from "./log.ts";

export async function loadCliPlugins(
  configDir: string,
  dir: string | undefined,
  log: Logger,
): Promise<Plugins> {
  const compressors = builtinCompressors();
  const remotes = builtinRemotes();
  const folder = dir ?? defaultPluginDir(configDir);
  const result = await loadPlugins(folder, { compressors, remotes }, {
    explicit: dir !== undefined,
    warn: (msg) => log.warn(msg),
  });
  for (const file of result.loaded) log.debug(`Loaded plugin "${file}"`);
  return { compressors, remotes, failures: result.failures };
}
