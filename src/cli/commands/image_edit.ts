/**
 * `imago edit IMAGE`: YAML from stdin when it is not a terminal; otherwise the current values
 * open in $VISUAL / $EDITOR (default vi), and a bad edit offers to re-open the editor, as
 * `lxc image edit` does. Invalid input changes nothing.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { annotate, ImagoError, InvalidInputError } from "../../core/errors.ts";
import { formatImagePut, parseImagePut, putOf } from "../../core/image_put.ts";
import type { ImageRecord } from "../../core/model.ts";
import type { Store } from "../../core/store.ts";
import { readAll } from "../../core/streams.ts";
import type { CommandContext } from "../context.ts";

const HELP = `### This is a YAML representation of the image properties.
### Any line starting with a '# will be ignored.
###
### Each property is represented by a single line:
### An example would be:
###  description: My custom image`;

/** An edit document is small; this bounds what stdin may send. */
const MAX_YAML = 1 << 20;

function apply(store: Store, rec: ImageRecord, text: string, file: string): void {
  store.update(rec.fingerprint, parseImagePut(text, { current: rec, file }));
}

/**
 * Runs the editor on `file` with the terminal attached. Synchronously on purpose: while the
 * event loop is blocked, nothing in this process can read keystrokes meant for the editor.
 */
function runEditor(env: Record<string, string | undefined>, file: string): void {
  const editor = (env.VISUAL || env.EDITOR || "vi").trim().split(/\s+/);
  const r = spawnSync(editor[0], [...editor.slice(1), file], { stdio: "inherit" });
  if (r.error) throw new ImagoError(`Cannot start the editor "${editor[0]}": ${r.error.message}`);
  if (r.status !== 0) {
    const how = r.signal ?? `exit ${r.status}`;
    throw new ImagoError(`The editor "${editor[0]}" failed (${how}): the image was not changed`);
  }
}

/** Waits for one chunk (a line, on a terminal) of stdin; false at end of input. */
async function waitForEnter(stdin: ReadableStream<Uint8Array> | undefined): Promise<boolean> {
  if (!stdin) return false;
  const reader = stdin.getReader();
  try {
    return !(await reader.read()).done;
  } finally {
    reader.releaseLock();
  }
}

async function interactive(ctx: CommandContext, store: Store, rec: ImageRecord): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "imago-edit-"));
  const file = join(dir, `${rec.fingerprint.slice(0, 12)}.yaml`);
  try {
    await writeFile(file, `${HELP}\n\n${formatImagePut(putOf(rec))}`, { mode: 0o600 });
    for (;;) {
      runEditor(ctx.io.env, file);
      try {
        apply(store, rec, await readFile(file, "utf8"), "edited YAML");
        return;
      } catch (err) {
        if (!(err instanceof ImagoError)) throw err;
        ctx.io.stderr(`Config parsing error: ${err.message}\n`);
        ctx.print("Press enter to open the editor again or ctrl+c to abort change");
        if (!await waitForEnter(ctx.io.stdin)) throw err;
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function action(ctx: CommandContext, ref: string): Promise<void> {
  const store = await ctx.store();
  const rec = store.resolve(ref);
  if (ctx.io.stdinIsTTY) return await interactive(ctx, store, rec);
  if (!ctx.io.stdin) throw new InvalidInputError(`Cannot edit "${ref}": no YAML on stdin`);
  const bytes = await readAll(ctx.io.stdin, MAX_YAML, "The YAML on stdin");
  try {
    apply(store, rec, new TextDecoder().decode(bytes), "stdin");
  } catch (err) {
    throw err instanceof ImagoError ? annotate(err, `Cannot edit "${ref}"`) : err;
  }
}
