/**
 * Differences between the three ways imago runs: Deno, Node, and the Node single-executable
 * application (SEA) that `deno task compile` builds. One small feature-detecting function each;
 * nothing here reads files relative to the module, so it behaves the same once bundled.
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";

/** Which runtime this process is: "sea" is the built `imago` binary. */
export type RuntimeName = "deno" | "node" | "sea";

type SeaModule = { isSea(): boolean };

/** True inside a Node single-executable application (the built binary). */
export function isSea(): boolean {
  // node:sea exists on Node only; Deno returns undefined for it, older Node lack the getter.
  const sea = process.getBuiltinModule?.("node:sea") as SeaModule | undefined;
  return sea?.isSea() ?? false;
}

/** Names the runtime: Deno, plain Node, or the single-executable binary. */
export function runtimeName(): RuntimeName {
  if (typeof Deno !== "undefined") return "deno";
  return isSea() ? "sea" : "node";
}

/** The runtime and its version, e.g. "node 26.12.1" (a SEA reports the Node it embeds). */
export function runtimeVersion(): string {
  const name = runtimeName();
  return name === "deno" ? `deno ${Deno.version.deno}` : `${name} ${process.versions.node}`;
}

/**
 * Loads an ES module file given by path and returns its namespace object.
 * Inside a SEA `import()` of a file throws, so the file goes through a require() rooted at the
 * binary; Node's require(esm) gives the same namespace object import() would.
 */
export async function loadModule(path: string): Promise<unknown> {
  const abs = resolve(path);
  if (isSea()) return createRequire(process.execPath)(abs);
  return await import(pathToFileURL(abs).href);
}

/**
 * The argv prefix that starts this same CLI again, for spawning a child imago.
 * process.execPath is the binary itself in a SEA, but the runtime (node, deno) otherwise,
 * which then needs the entry script after it.
 */
export function selfCommand(): string[] {
  const name = runtimeName();
  if (name === "sea") return [process.execPath];
  const script = process.argv[1];
  if (name === "deno") return [process.execPath, "run", "-A", script];
  return [process.execPath, ...process.execArgv, script];
}
