/** Shared by the unpack tests: an image folder with every kind of entry, built into a store. */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import assert from "node:assert/strict";
import { join } from "node:path";
import process from "node:process";
import { buildImage } from "../../src/core/build.ts";
import { Store } from "../../src/core/store.ts";
import type { TemplateRun } from "../../src/core/templates.ts";
import type { UnpackSource } from "../../src/core/unpack.ts";
import { builtinCompressors } from "../../src/plugins/builtin.ts";
import { hasCommand } from "../helpers.ts";

export const isRoot = process.getuid?.() === 0;
// setfattr/getfattr come with the Debian package attr, mksquashfs with squashfs-tools.
export const hasAttr = hasCommand("setfattr") && hasCommand("getfattr");
export const hasSquashfs = hasCommand("mksquashfs") && hasCommand("unsquashfs");
export const compressors = builtinCompressors();
export const RUN: TemplateRun = {
  trigger: "create",
  instance: { name: "c1", architecture: "x86_64" },
  config: { "user.greeting": "hello" },
};
export const META = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: test\n" +
  "templates:\n  /etc/hostname:\n    when: [create]\n    template: hostname.tpl\n" +
  "  /etc/motd:\n    when: [create]\n    create_only: true\n    template: motd.tpl\n" +
  "  /var/lib/seed/user-data:\n    when: [create]\n    template: user.tpl\n" +
  "    properties:\n      default: none\n";

/** An image folder whose rootfs holds every kind of entry an unpack must keep. */
export function makeImageDir(work: string): string {
  const dir = mkdtempSync(join(work, "img-"));
  writeFileSync(join(dir, "metadata.yaml"), META);
  mkdirSync(join(dir, "templates"));
  writeFileSync(join(dir, "templates", "hostname.tpl"), "{{ instance.name }}\n");
  writeFileSync(join(dir, "templates", "motd.tpl"), "replaced\n");
  writeFileSync(
    join(dir, "templates", "user.tpl"),
    '{{ config_get("user.greeting", properties.default) }}\n',
  );
  const root = join(dir, "rootfs");
  const etc = join(root, "etc");
  mkdirSync(etc, { recursive: true });
  chmodSync(root, 0o755);
  writeFileSync(join(etc, "motd"), "kept\n");
  writeFileSync(join(etc, "secret"), "s3cret\n");
  if (isRoot) chownSync(join(etc, "secret"), 1234, 5678); // before chmod: chown clears setuid
  chmodSync(join(etc, "secret"), 0o4750);
  utimesSync(join(etc, "secret"), 1600000000, 1600000000);
  linkSync(join(etc, "secret"), join(etc, "secret.hard"));
  symlinkSync("secret", join(etc, "secret.link"));
  symlinkSync("/etc/passwd", join(etc, "absolute.link"));
  mkdirSync(join(root, "tmp"));
  chmodSync(join(root, "tmp"), 0o1777);
  mkdirSync(join(root, "run"));
  execFileSync("mkfifo", [join(root, "run", "fifo")]);
  if (hasAttr) {
    execFileSync("setfattr", ["-n", "user.imago", "-v", "kept", join(etc, "secret")]);
    if (isRoot) execFileSync("setfattr", ["-n", "trusted.imago", "-v", "t", join(etc, "secret")]);
  }
  if (isRoot) {
    mkdirSync(join(root, "dev"));
    execFileSync("mknod", [join(root, "dev", "null2"), "c", "1", "3"]);
  }
  return dir;
}

/** Nothing named like a temporary unpack folder is left in `parent`. */
export function assertNoStage(parent: string): void {
  const left = readdirSync(parent).filter((n) => n.includes(".imago-unpack-"));
  assert.deepEqual(left, []);
}

/** The stored files of an image built by imago, as an UnpackSource. */
export async function built(
  work: string,
  split: boolean,
  compression: string,
  dir = makeImageDir(work),
) {
  const store = await Store.open(mkdtempSync(join(work, "store-")));
  const b = await buildImage(dir, { split, compression, compressors });
  const { image } = await store.import(b.metadata, b.rootfs);
  const files = store.files(image.fingerprint);
  store.close();
  const source: UnpackSource = {
    metadata: files.metadata.path,
    rootfs: files.rootfs && { path: files.rootfs.path, kind: image.files.rootfs!.kind },
    label: image.fingerprint.slice(0, 12),
  };
  return source;
}
