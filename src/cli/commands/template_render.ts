/**
 * `imago template render [REMOTE:]IMAGE PATH [--name NAME] [-c KEY=VALUE]... [--trigger T]`:
 * one template of the image rendered to stdout, exactly as LXD would write it into an instance
 * called NAME (default "imago"), without unpacking anything. PATH is the template's target path
 * in metadata.yaml or its file name under templates/. Includes need the root filesystem, so
 * they fail here: use `imago unpack` for those.
 */
import { basename } from "node:path";
import type { TemplateTrigger } from "../../core/metadata.ts";
import { readBundle } from "../../core/image_bundle.ts";
import {
  checkInstanceName,
  findTemplate,
  instanceConfig,
  parseConfigFlags,
  renderEntry,
} from "../../core/templates.ts";
import type { CommandContext } from "../context.ts";
import { fsError } from "../files.ts";
import { localOrPulled } from "../pull_remote.ts";

export interface RenderCommandOptions {
  name?: string;
  config?: string[];
  trigger?: TemplateTrigger;
}

export async function action(
  ctx: CommandContext,
  ref: string,
  path: string,
  opts: RenderCommandOptions = {},
): Promise<void> {
  const name = opts.name ?? "imago";
  checkInstanceName(name);
  const user = parseConfigFlags(opts.config ?? []);
  const store = await ctx.store();
  const rec = await localOrPulled(ctx, ref);
  const meta = store.files(rec.fingerprint).metadata;
  const action = `Cannot render "${path}" of "${ref}"`;
  let text: string;
  try {
    const bundle = await readBundle(meta.path, store.compressors, basename(meta.path), action);
    const [target, entry] = findTemplate(bundle, path);
    text = renderEntry(bundle, target, entry, {
      trigger: opts.trigger ?? "create",
      instance: { name, architecture: rec.architecture, type: rec.type },
      config: instanceConfig(rec.fingerprint, rec.properties, user),
    });
  } catch (err) {
    throw fsError(err, action);
  }
  // The exact bytes LXD would write: no newline added.
  ctx.io.stdout(text);
}
