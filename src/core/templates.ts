/**
 * Applying an image's templates (metadata.yaml `templates:`) as LXD does when an instance is
 * created, copied or started: each template whose `when` holds the trigger is rendered with the
 * instance's context into its target path in the root filesystem. Targets must stay inside the
 * root, also through symlinks; an existing target is skipped when `create_only`, otherwise
 * truncated (keeping its mode and owner); a new one gets mode 0644, owner root, and missing
 * parent folders 0755.
 */
import { constants } from "node:fs";
import { chmod, chown, lstat, mkdir, open, realpath } from "node:fs/promises";
import { join, sep } from "node:path";
import process from "node:process";
import { InvalidInputError, NotFoundError, UsageError } from "./errors.ts";
import type { ImageMetadata, TemplateEntry, TemplateTrigger } from "./metadata.ts";
import type { ImageType } from "./model.ts";
import { renderPongo2 } from "./pongo2.ts";

/** metadata.yaml and the templates/ files of an image. */
export interface TemplateBundle {
  metadata: ImageMetadata;
  templates: Map<string, Uint8Array>;
}

/** What LXD calls `instance` (and `container`) in a template's context. */
export interface InstanceInfo {
  name: string;
  architecture: string;
  type?: ImageType;
  ephemeral?: boolean;
  privileged?: boolean;
}

/** The instance a template is rendered for. */
export interface TemplateRun {
  trigger: TemplateTrigger;
  instance: InstanceInfo;
  /** The instance's (expanded) config. */
  config: Record<string, string>;
  devices?: Record<string, Record<string, string>>;
}

/** Keys sorted: pongo2 walks maps in key order, so iteration matches LXD's. */
function sorted<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0));
}

/** The context LXD gives a template (lxd/instance/drivers/driver_lxc.go templateApplyNow). */
export function templateContext(
  run: TemplateRun,
  path: string,
  properties: Record<string, string>,
): Record<string, unknown> {
  const i = run.instance;
  const instance = {
    name: i.name,
    type: i.type ?? "container",
    architecture: i.architecture,
    ephemeral: i.ephemeral ? "true" : "false",
    ...(i.type === "virtual-machine" ? {} : { privileged: i.privileged ? "true" : "false" }),
  };
  const config = sorted(run.config);
  return {
    trigger: run.trigger,
    path,
    instance,
    container: instance,
    config,
    devices: sorted(Object.fromEntries(
      Object.entries(run.devices ?? {}).map(([k, v]) => [k, sorted(v)]),
    )),
    properties: sorted(properties),
    // The value without trailing CR/LF, or the default exactly as given. pongo2 insists on
    // both arguments, so LXD fails a template that gives one.
    config_get: (...args: unknown[]) => {
      if (args.length !== 2) {
        throw new Error(`config_get takes 2 arguments (key, default), not ${args.length}`);
      }
      const key = String(args[0]);
      return Object.hasOwn(config, key) ? config[key].replace(/[\r\n]+$/, "") : args[1];
    },
  };
}

/** LXD's rule for instance names: a hostname label (letters, digits, "-"), not all digits. */
export function checkInstanceName(name: string): void {
  if (!/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(name) || /^\d+$/.test(name)) {
    throw new UsageError(
      `Invalid instance name "${name}": use 1 to 63 letters, digits and "-", not starting or ` +
        `ending with "-" and not only digits`,
    );
  }
}

/** `KEY=VALUE` flags as a config map; the value may hold "=" and be empty. */
export function parseConfigFlags(flags: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new UsageError(`Invalid config "${f}": use KEY=VALUE`);
    out[f.slice(0, eq)] = f.slice(eq + 1);
  }
  return out;
}

/** The config LXD gives a new instance of the image: image.* properties, base image, `user`. */
export function instanceConfig(
  fingerprint: string,
  properties: Record<string, string>,
  user: Record<string, string>,
): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(properties)) config[`image.${k}`] = v;
  config["volatile.base_image"] = fingerprint;
  return { ...config, ...user };
}

/** Renders the template of `entry` (for target `path`); `root` allows includes from it. */
export function renderEntry(
  bundle: TemplateBundle,
  path: string,
  entry: TemplateEntry,
  run: TemplateRun,
  root?: string,
): string {
  const bytes = bundle.templates.get(entry.template);
  if (!bytes) {
    throw new NotFoundError(
      `Cannot render "${path}": the template "${entry.template}" is missing from templates/`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidInputError(`Cannot render "${path}": "${entry.template}" is not UTF-8 text`);
  }
  return renderPongo2(text, entry.template, templateContext(run, path, entry.properties), root);
}

/** The template entry for a target path, or for a template file name. */
export function findTemplate(bundle: TemplateBundle, pathOrName: string): [string, TemplateEntry] {
  const all = Object.entries(bundle.metadata.templates);
  const hit = all.find(([p]) => p === pathOrName) ?? all.find(([, e]) => e.template === pathOrName);
  if (!hit) {
    const known = all.map(([p, e]) => `${p} (${e.template})`).sort().join(", ") || "none";
    throw new NotFoundError(`Template "${pathOrName}" not found: the image has ${known}`);
  }
  return hit;
}

export interface ApplyResult {
  /** Target paths written, and those skipped because they exist and are create_only. */
  written: string[];
  skipped: string[];
}

/** Renders every template whose `when` includes the trigger into `root`, in path order. */
export async function applyTemplates(
  root: string,
  bundle: TemplateBundle,
  run: TemplateRun,
): Promise<ApplyResult> {
  const out: ApplyResult = { written: [], skipped: [] };
  const realRoot = await realpath(root);
  const entries = Object.entries(bundle.metadata.templates).sort(([a], [b]) => a < b ? -1 : 1);
  for (const [path, entry] of entries) {
    if (!entry.when.includes(run.trigger)) continue;
    const target = await targetFile(realRoot, path);
    if (target.exists && entry.create_only) {
      out.skipped.push(path);
      continue;
    }
    const text = renderEntry(bundle, path, entry, run, realRoot);
    await writeTarget(target, text);
    out.written.push(path);
  }
  return out;
}

interface Target {
  file: string;
  exists: boolean;
  /** Folders to create, outermost first (new files only). */
  create: string[];
}

const inside = (root: string, p: string) => p === root || p.startsWith(root + sep);
const exists = (p: string) => lstat(p).then((s) => s, () => undefined);

/** Where `path` lands in `root`; refuses any route out of it, including through symlinks. */
async function targetFile(root: string, path: string): Promise<Target> {
  const refuse = (why: string) =>
    new InvalidInputError(`Cannot apply the template for "${path}": ${why}`);
  const parts = path.split("/").filter((p) => p && p !== ".");
  if (!path.startsWith("/") || parts.includes("..") || parts.length === 0) {
    throw refuse(`the target must be an absolute path inside the instance, without ".."`);
  }
  // The deepest folder that exists, resolved; everything below it is created by us.
  let depth = parts.length - 1;
  while (depth > 0 && !await exists(join(root, ...parts.slice(0, depth)))) depth--;
  const base = await realpath(join(root, ...parts.slice(0, depth))).catch(() => undefined);
  if (base === undefined || !inside(root, base)) {
    throw refuse(`its folder leads outside the instance (through a symlink)`);
  }
  const create = parts.slice(depth, -1).map((_, i) =>
    join(base, ...parts.slice(depth, depth + i + 1))
  );
  const file = join(base, ...parts.slice(depth));
  const st = create.length ? undefined : await exists(file);
  if (!st) return { file, exists: false, create };
  if (st.isSymbolicLink()) {
    const real = await realpath(file).catch(() => undefined);
    if (real === undefined || !inside(root, real)) {
      throw refuse(`it is a symlink to a place outside the instance or to nothing`);
    }
    return { file: real, exists: true, create: [] };
  }
  if (st.isDirectory()) throw refuse("it is a folder in the image");
  return { file, exists: true, create: [] };
}

/** Writes `text` to the target: truncating an existing file, or creating it as LXD does. */
async function writeTarget(t: Target, text: string): Promise<void> {
  const root = process.getuid?.() === 0;
  for (const dir of t.create) {
    await mkdir(dir, { mode: 0o755 });
    await chmod(dir, 0o755);
    if (root) await chown(dir, 0, 0);
  }
  const { O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW } = constants;
  const flags = O_WRONLY | O_NOFOLLOW | (t.exists ? O_TRUNC : O_CREAT | O_EXCL);
  const fh = await open(t.file, flags, 0o644);
  try {
    if (!t.exists) {
      await fh.chmod(0o644);
      if (root) await fh.chown(0, 0);
    }
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
}
