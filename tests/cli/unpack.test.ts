import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { entry, tarOf } from "../core/tar_raw.ts";
import { makeUnified } from "../helpers.ts";
import { sandbox } from "./harness.ts";

const META = "architecture: x86_64\ncreation_date: 1700000000\nproperties:\n  os: testos\n" +
  "templates:\n" +
  "  /etc/hostname:\n    when: [create, copy]\n    template: hostname.tpl\n" +
  "  /etc/hosts:\n    when: [create]\n    create_only: true\n    template: hosts.tpl\n" +
  "  /etc/boot-id:\n    when: [start]\n    template: boot.tpl\n" +
  "  /var/lib/cloud/seed/nocloud-net/user-data:\n    when: [create, copy]\n" +
  "    template: cloud-init-user.tpl\n    properties:\n      default: |\n        #cloud-config\n" +
  "        {}\n";
const TEMPLATES: Record<string, string> = {
  "hostname.tpl": "{{ container.name }}\n",
  "hosts.tpl": "127.0.1.1 {{ container.name }}\n",
  "boot.tpl": '{{ trigger }} {{ config_get("image.os", "") }}\n',
  "cloud-init-user.tpl": '{{ config_get("user.user-data", properties.default) }}',
};

async function withSandbox(fn: (sb: ReturnType<typeof sandbox>) => Promise<void>) {
  const sb = sandbox();
  try {
    await fn(sb);
  } finally {
    sb.cleanup();
  }
}

/** Builds the test image with `imago build --alias img`; returns its fingerprint. */
async function buildImage(sb: ReturnType<typeof sandbox>): Promise<string> {
  const src = join(sb.dir, "src");
  mkdirSync(join(src, "templates"), { recursive: true });
  mkdirSync(join(src, "rootfs", "etc"), { recursive: true });
  writeFileSync(join(src, "metadata.yaml"), META);
  for (const [name, text] of Object.entries(TEMPLATES)) {
    writeFileSync(join(src, "templates", name), text);
  }
  writeFileSync(join(src, "rootfs", "etc", "hosts"), "127.0.0.1 localhost\n");
  const r = await sb.cli(["build", src, "--alias", "img", "--compression", "xz"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split(" ").at(-1)!;
}

test("unpack writes the rootfs and renders the create templates for the folder's name", async () => {
  await withSandbox(async (sb) => {
    const fp = await buildImage(sb);
    const dir = join(sb.dir, "web1");
    const r = await sb.cli(["unpack", "img", dir, "-c", "user.user-data=#cloud-config\nx: 1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `Unpacked ${fp.slice(0, 12)} into "${dir}" (2 templates, 1 skipped (create_only))\n`,
    );
    assert.equal(readFileSync(join(dir, "etc", "hostname"), "utf8"), "web1\n");
    assert.equal(readFileSync(join(dir, "etc", "hosts"), "utf8"), "127.0.0.1 localhost\n");
    assert.equal(
      readFileSync(join(dir, "var/lib/cloud/seed/nocloud-net/user-data"), "utf8"),
      "#cloud-config\nx: 1",
    );
    assert.equal(statSync(join(dir, "etc", "hostname")).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(sb.dir).filter((n) => n.includes("imago-unpack")), []);
    // Unpacking makes an instance of the image: a use, as LXD records it.
    const [img] = JSON.parse((await sb.cli(["list", "-f", "json"])).stdout);
    assert.notEqual(img.last_used_at, "0001-01-01T00:00:00Z");
  });
});

test("unpack --name and --trigger start choose the instance and the templates", async () => {
  await withSandbox(async (sb) => {
    await buildImage(sb);
    const dir = join(sb.dir, "out");
    const r = await sb.cli(["unpack", "img", dir, "--name", "db-2", "--trigger", "start", "-q"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(readFileSync(join(dir, "etc", "boot-id"), "utf8"), "start testos\n");
    assert.deepEqual(readdirSync(join(dir, "etc")).sort(), ["boot-id", "hosts"]);
  });
});

test("unpack refuses a bad name, a bad config flag and a non-empty folder", async () => {
  await withSandbox(async (sb) => {
    await buildImage(sb);
    const bad = await sb.cli(["unpack", "img", join(sb.dir, "under_score")]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /^Error: Invalid instance name "under_score": .*see "imago unpack --help"\n$/,
    );
    const flag = await sb.cli(["unpack", "img", join(sb.dir, "x"), "-c", "novalue"]);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Invalid config "novalue": use KEY=VALUE/);
    const full = join(sb.dir, "full");
    mkdirSync(full);
    writeFileSync(join(full, "mine"), "x");
    const r = await sb.cli(["unpack", "img", full]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `Error: Cannot unpack "img" into "${full}": "${full}" is not empty: give a new or an empty folder\n`,
    );
    assert.deepEqual(readdirSync(full), ["mine"]);
    const trig = await sb.cli(["unpack", "img", join(sb.dir, "y"), "--trigger", "boot"]);
    assert.equal(trig.code, 2);
  });
});

test("unpack refuses an image whose entry goes through a symlink, leaving nothing", async () => {
  await withSandbox(async (sb) => {
    // Each name is safe, so import takes it; only following the symlink leaves the tree.
    const file = join(sb.dir, "evil.tar");
    writeFileSync(
      file,
      tarOf(
        entry("metadata.yaml", "architecture: x86_64\ncreation_date: 1700000000\n"),
        entry("rootfs/", "", { type: "5", mode: 0o755 }),
        entry("rootfs/escape", "", { type: "2", linkname: "/tmp" }),
        entry("rootfs/escape/imago-cli-evil", "pwned"),
      ),
    );
    assert.equal((await sb.cli(["import", file, "--alias", "evil"])).code, 0);
    const dir = join(sb.dir, "c1");
    const r = await sb.cli(["unpack", "evil", dir]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /"rootfs\/escape\/imago-cli-evil" goes through the symlink "rootfs\/escape"/,
    );
    assert.deepEqual(readdirSync(sb.dir).sort(), ["evil.tar", "store"]);
  });
});

test("unpack refuses a VM image", async () => {
  await withSandbox(async (sb) => {
    const file = makeUnified(sb.dir, "vm", { vm: true });
    assert.equal((await sb.cli(["import", file, "--alias", "vm"])).code, 0);
    const r = await sb.cli(["unpack", "vm", join(sb.dir, "c1")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /it is a virtual-machine image: VM disk images cannot be unpacked/);
  });
});

test("template render prints one template exactly, by path or file name", async () => {
  await withSandbox(async (sb) => {
    await buildImage(sb);
    const host = await sb.cli(["template", "render", "img", "/etc/hostname", "--name", "c7"]);
    assert.equal(host.code, 0, host.stderr);
    assert.equal(host.stdout, "c7\n");
    const user = await sb.cli(["template", "render", "img", "cloud-init-user.tpl"]);
    assert.equal(user.stdout, "#cloud-config\n{}\n");
    const start = await sb.cli(["template", "render", "img", "boot.tpl", "--trigger", "start"]);
    assert.equal(start.stdout, "start testos\n");
    const dflt = await sb.cli(["template", "render", "img", "hostname.tpl"]);
    assert.equal(dflt.stdout, "imago\n");
    const missing = await sb.cli(["template", "render", "img", "nope"]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^Error: Template "nope" not found: the image has \/etc\/boot-id \(boot\.tpl\), /,
    );
  });
});
