/**
 * `imago unpack` killed or interrupted mid-way: no temporary `DIR.imago-unpack-*` folder may
 * outlive it. The unpack runs in a child process; the test waits for its temporary folder to
 * appear, then signals it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { tsRunner } from "../runtime_helpers.ts";
import { sandbox } from "./harness.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));
const FILES = 4000;
const BIG = 96 << 20;

/** A gzip image big enough that unpacking takes a while: many small files and 96 MiB of zeros. */
async function importBigImage(sb: ReturnType<typeof sandbox>): Promise<void> {
  const src = join(sb.dir, "src");
  for (let d = 0; d < FILES / 200; d++) {
    mkdirSync(join(src, "rootfs", `d${d}`), { recursive: true });
    for (let f = 0; f < 200; f++) {
      writeFileSync(join(src, "rootfs", `d${d}`, `f${f}`), `${d}/${f}\n`);
    }
  }
  writeFileSync(join(src, "rootfs", "zeros"), new Uint8Array(BIG));
  writeFileSync(join(src, "metadata.yaml"), "architecture: x86_64\ncreation_date: 1700000000\n");
  const file = join(sb.dir, "big.tar.gz");
  execFileSync("tar", ["-czf", file, "-C", src, "metadata.yaml", "rootfs"]);
  const r = await sb.cli(["import", file, "--alias", "big"]);
  assert.equal(r.code, 0, r.stderr);
}

const stages = (parent: string) => readdirSync(parent).filter((n) => n.includes(".imago-unpack-"));

/** Starts `imago unpack big DIR` in a child process. */
function startUnpack(sb: ReturnType<typeof sandbox>, dir: string) {
  const [cmd, ...pre] = tsRunner();
  const child = spawn(cmd, [...pre, MAIN, "--store", sb.store, "unpack", "big", dir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => stderr += d);
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stderr }))
  );
  return { child, exit };
}

/** Polls `parent` until a temporary unpack folder appears; fails if the child ends first. */
async function waitForStage(parent: string, child: ChildProcess): Promise<string> {
  for (;;) {
    const found = stages(parent);
    if (found.length) return found[0];
    assert.equal(child.exitCode, null, "the unpack ended before its temporary folder was seen");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Imports the big image and starts unpacking it into `<sandbox>/out/c1`; returns once its
 * temporary folder exists. */
async function unpackUnderWay(sb: ReturnType<typeof sandbox>) {
  await importBigImage(sb);
  const parent = join(sb.dir, "out");
  mkdirSync(parent);
  const dir = join(parent, "c1");
  const { child, exit } = startUnpack(sb, dir);
  const stage = await waitForStage(parent, child);
  return { parent, dir, child, exit, stage };
}

/** Waits until no process (an orphaned tar of the killed child) names `path` on its command line. */
async function waitForNoProcessUsing(path: string): Promise<void> {
  const using = () =>
    readdirSync("/proc").filter((p) => /^\d+$/.test(p)).some((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, "utf8").includes(path);
      } catch {
        return false;
      }
    });
  while (using()) await new Promise((r) => setTimeout(r, 20));
}

function assertUnpacked(dir: string): void {
  assert.equal(readdirSync(join(dir, "d7")).length, 200);
  assert.equal(readFileSync(join(dir, "d7", "f42"), "utf8"), "7/42\n");
  assert.equal(statSync(join(dir, "zeros")).size, BIG);
}

test("unpack after a SIGKILLed unpack removes the dead process's temporary folder", async () => {
  const sb = sandbox();
  try {
    const { parent, dir, child, exit, stage } = await unpackUnderWay(sb);
    child.kill("SIGKILL");
    await exit;
    await waitForNoProcessUsing(join(parent, stage));
    // The killed process could not clean up: its folder is there, named with its pid.
    assert.deepEqual(stages(parent), [stage]);
    assert.match(stage, new RegExp(`^c1\\.imago-unpack-${child.pid}-[0-9a-f]+$`));
    assert.equal(existsSync(dir), false);

    const r = await sb.cli(["unpack", "big", dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stages(parent), []);
    assertUnpacked(dir);
  } finally {
    sb.cleanup();
  }
});

test("unpack interrupted by SIGINT removes its temporary folder and exits 130", async () => {
  const sb = sandbox();
  try {
    const { parent, dir, child, exit } = await unpackUnderWay(sb);
    // Not child.kill(): Deno then reports the signal it sent instead of the exit code.
    process.kill(child.pid!, "SIGINT");
    const r = await exit;
    assert.equal(r.code, 130, r.stderr);
    assert.equal(r.stderr, `Error: Cannot unpack "big" into "${dir}": interrupted by SIGINT\n`);
    assert.deepEqual(readdirSync(parent), []);
  } finally {
    sb.cleanup();
  }
});
