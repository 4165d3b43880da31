/**
 * `imago unpack` against the real LXD (scripts/lxd.sh): the same image is created as an instance
 * by LXD (`lxc init IMAGE NAME -c ...`, then `lxc start`, which renders the templates before it
 * fails here for want of a container runtime) and unpacked by dist/imago with the same name and
 * config. Every rendered file must be byte for byte what LXD wrote, with the same mode, and the
 * root filesystem must match entry for entry (owners shifted by LXD's idmap). Outside CI the
 * tests skip when lxc, its daemon or a tool is missing; under CI that is a failure.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import {
  exec,
  execOk,
  exportedFiles,
  hasCommand,
  imagoSandbox,
  lxc,
  lxdDelete,
  lxdEnv,
  lxdImport,
  lxdSkip,
} from "./e2e_helpers.ts";

const skip = lxdSkip("tar", "xz", "mkfifo");
const squashSkip = skip || lxdSkip("mksquashfs", "unsquashfs");
for (const reason of new Set([skip, squashSkip])) {
  if (reason) console.error(`templates_lxd.test.ts: skipping: ${reason}`);
}
const isRoot = process.getuid?.() === 0;
// setfattr/getfattr: Debian package attr (apt-get install -y attr).
const hasAttr = hasCommand("setfattr") && hasCommand("getfattr");

const METADATA = `architecture: x86_64
creation_date: 1700000000
properties:
  os: imagotest
  release: "24.04"
  description: Imago template test image
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create]
    create_only: true
    template: hosts.tpl
  /etc/fresh-only:
    when: [create]
    create_only: true
    template: hosts.tpl
  /var/lib/cloud/seed/nocloud-net/meta-data:
    when: [create, copy]
    template: cloud-init-meta.tpl
  /var/lib/cloud/seed/nocloud-net/user-data:
    when: [create, copy]
    template: cloud-init-user.tpl
    properties:
      default: |
        #cloud-config
        {}
  /var/lib/cloud/seed/nocloud-net/network-config:
    when: [create, copy]
    template: cloud-init-network.tpl
  /etc/imago/semantics:
    when: [create]
    template: semantics.tpl
    properties:
      answer: "42"
  /etc/imago/started:
    when: [start]
    template: started.tpl
`;

/** Ubuntu's and distrobuilder's templates, and one exercising pongo2's semantics. */
const TEMPLATES: Record<string, string> = {
  "hostname.tpl": "{{ container.name }}\n",
  "hosts.tpl": "127.0.1.1\t{{ container.name }}\n127.0.0.1\tlocalhost\n",
  "cloud-init-meta.tpl":
    "instance-id: {{ container.name }}\nlocal-hostname: {{ container.name }}\n" +
    '{{ config_get("user.meta-data", "") }}\n',
  "cloud-init-user.tpl":
    '{%- if config_get("cloud-init.user-data", properties.default) == properties.default -%}\n' +
    '{{ config_get("user.user-data", properties.default) }}\n{%- else -%}\n' +
    '{{- config_get("cloud-init.user-data", properties.default) }}\n{%- endif %}\n',
  "cloud-init-network.tpl": '{%- if config_get("cloud-init.network-config", "") == "" -%}\n' +
    '{%- if config_get("user.network-config", "") == "" -%}\nversion: 1\nconfig:\n' +
    '  - type: physical\n    name: {% if instance.type == "virtual-machine" %}enp5s0' +
    "{% else %}eth0{% endif %}\n    subnets:\n      - type: dhcp\n        control: auto\n" +
    '{%- else -%}\n{{- config_get("user.network-config", "") -}}\n{%- endif -%}\n{%- else -%}\n' +
    '{{- config_get("cloud-init.network-config", "") -}}\n{%- endif %}\n',
  "semantics.tpl": [
    "trigger={{ trigger }} path={{ path }}",
    "name={{ instance.name }} type={{ instance.type }} arch={{ instance.architecture }}",
    "ephemeral={{ instance.ephemeral }} privileged={{ container.privileged }}",
    'foo={{ config_get("user.foo", "none") }} crlf=[{{ config_get("user.crlf", "") }}]',
    'os={{ config_get("image.os", "") }} base={{ config_get("volatile.base_image", "") }}',
    "answer={{ properties.answer }} missing=[{{ properties.nope }}] [{{ True }}]",
    'eq={{ "a" == "a" }} mixed={{ 1 == "1" }} float={{ 1.5 }} gt={{ "10" > 2 }}',
    'not={{ not "" }} notnum={{ not 5 }} and={{ "x" and "" }} or={{ "" or "y" }}',
    '{% if not config_get("user.foo", "") == "" %}notcmp=T{% else %}notcmp=F{% endif %}',
    '{% if "" and "" or "y" %}group=T{% else %}group=F{% endif %}',
    'filters={{ ""|default:"dflt" }} {{ "ab"|capfirst }} {{ "Hello"|lower }} {{ "abc"|length }}',
    "{% for k, v in properties %}{{ forloop.Counter }}:{{ k }}={{ v }};{% endfor %}",
    "",
  ].join("\n"),
  "started.tpl": '{{ trigger }} {{ config_get("image.release", "") }}\n',
};

/** Config given to both: one value with a trailing CR that config_get must trim. */
const CONFIG = ["user.foo=bar", "user.crlf=x\r", "user.user-data=#cloud-config\nruncmd: [true]"];

/** The image source folder: metadata.yaml, templates/ and a rootfs with every kind of entry. */
function writeSource(dir: string): string {
  mkdirSync(join(dir, "templates"), { recursive: true });
  writeFileSync(join(dir, "metadata.yaml"), METADATA);
  for (const [name, text] of Object.entries(TEMPLATES)) {
    writeFileSync(join(dir, "templates", name), text);
  }
  const root = join(dir, "rootfs");
  for (const d of ["etc", "usr/bin", "tmp", "run", "home/user"]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(root, 0o755);
  writeFileSync(join(root, "etc", "hosts"), "127.0.0.1 localhost # kept: create_only\n");
  writeFileSync(join(root, "etc", "hostname"), "old\n");
  chmodSync(join(root, "etc", "hostname"), 0o640);
  writeFileSync(join(root, "etc", "nonce"), `${randomBytes(8).toString("hex")}\n`);
  writeFileSync(join(root, "usr", "bin", "tool"), "#!/bin/sh\necho tool\n");
  chmodSync(join(root, "usr", "bin", "tool"), 0o755);
  linkSync(join(root, "usr", "bin", "tool"), join(root, "usr", "bin", "tool-again"));
  symlinkSync("tool", join(root, "usr", "bin", "tool-link"));
  symlinkSync("/etc/hostname", join(root, "etc", "absolute-link"));
  chmodSync(join(root, "tmp"), 0o1777);
  execOk("mkfifo", [join(root, "run", "fifo")]);
  writeFileSync(join(root, "home", "user", "secret"), "s3cret\n");
  if (isRoot) {
    chownSync(join(root, "home", "user"), 1000, 1000);
    chownSync(join(root, "home", "user", "secret"), 1000, 1000);
    writeFileSync(join(root, "usr", "bin", "suid"), "x");
    chmodSync(join(root, "usr", "bin", "suid"), 0o4755);
    mkdirSync(join(root, "dev"));
    execOk("mknod", [join(root, "dev", "null"), "c", "1", "3"]);
  }
  chmodSync(join(root, "home", "user", "secret"), 0o600);
  if (hasAttr) execOk("setfattr", ["-n", "user.imago", "-v", "kept", join(root, "etc", "nonce")]);
  return dir;
}

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  content?: string;
  xattr?: string;
}

/** Every entry under `root` (relative path → what must match), owners less `shift`. */
function tree(root: string, shift: number): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (rel: string) => {
    const path = join(root, rel);
    const st = lstatSync(path);
    const type = st.isDirectory()
      ? "dir"
      : st.isSymbolicLink()
      ? "symlink"
      : st.isFile()
      ? "file"
      : st.isFIFO()
      ? "fifo"
      : st.isCharacterDevice()
      ? `char ${st.rdev}`
      : "other";
    const content = type === "file"
      ? createHash("sha256").update(readFileSync(path)).digest("hex")
      : type === "symlink"
      ? readlinkSync(path)
      : undefined;
    const xattr = hasAttr && type === "file"
      ? exec("getfattr", ["--only-values", "-n", "user.imago", path]).stdout
      : undefined;
    out.set(rel || ".", {
      type,
      mode: st.mode & 0o7777,
      uid: st.uid - shift,
      gid: st.gid - shift,
      nlink: type === "dir" ? 0 : st.nlink,
      content,
      xattr,
    });
    if (type === "dir") { for (const name of readdirSync(path).sort()) walk(join(rel, name)); }
  };
  walk("");
  return out;
}

/**
 * Creates instance `name` from LXD image `fp` and starts it (which renders the templates);
 * returns its rootfs folder. The instance is deleted by the caller.
 */
function lxdInstance(fp: string, name: string): string {
  lxc("init", fp, name, ...CONFIG.flatMap((c) => ["-c", c]));
  const start = exec("lxc", ["start", name], lxdEnv());
  // LXD applies pending templates (volatile.apply_template) in the start hook, before the
  // container runtime is needed; the key is cleared once they were all written.
  const pending = lxc("config", "get", name, "volatile.apply_template").trim();
  assert.equal(pending, "", `LXD did not render the templates: ${start.stderr}`);
  if (start.status === 0) lxc("stop", "--force", name);
  return join(lxdEnv().LXD_DIR, "containers", name, "rootfs");
}

/** Unpacks with imago for `name`, with the same config, and compares with LXD's rootfs. */
function assertSameAsLxd(
  sb: ReturnType<typeof imagoSandbox>,
  ref: string,
  name: string,
  lxdRoot: string,
) {
  const out = join(sb.dir, name);
  sb.imago("unpack", ref, out, "--name", name, ...CONFIG.flatMap((c) => ["-c", c]));
  // LXD shifts owners into the container's idmap; the root folder is root inside.
  const shift = lstatSync(lxdRoot).uid - lstatSync(out).uid;
  const ours = tree(out, 0);
  const theirs = tree(lxdRoot, shift);
  // LXD also applied the start templates at that first start; imago does with --trigger start.
  theirs.delete("etc/imago/started");
  // liblxc makes mount points for /proc and /sys when the start begins; they are not the image's.
  for (const mount of ["proc", "sys"]) if (!ours.has(mount)) theirs.delete(mount);
  assert.deepEqual([...ours.keys()], [...theirs.keys()]);
  for (const [path, entry] of ours) {
    assert.deepEqual(entry, theirs.get(path), `"${path}" differs from LXD's`);
  }
  const semantics = readFileSync(join(out, "etc", "imago", "semantics"), "utf8");
  assert.match(semantics, new RegExp(`^trigger=create path=/etc/imago/semantics\nname=${name} `));
  assert.equal(
    readFileSync(join(out, "etc", "hosts"), "utf8"),
    "127.0.0.1 localhost # kept: create_only\n",
  );

  const started = join(sb.dir, `${name}-start`);
  sb.imago("unpack", ref, started, "--name", name, "--trigger", "start");
  const file = "etc/imago/started";
  assert.equal(
    readFileSync(join(started, file), "utf8"),
    readFileSync(join(lxdRoot, file), "utf8"),
  );
  const rendered = sb.imago(
    "template",
    "render",
    ref,
    "/var/lib/cloud/seed/nocloud-net/meta-data",
    "--name",
    name,
  );
  assert.equal(
    rendered,
    readFileSync(join(lxdRoot, "var/lib/cloud/seed/nocloud-net/meta-data"), "utf8"),
  );
}

const instanceName = () => `imago-tpl-${randomBytes(4).toString("hex")}`;

/** Deletes the instance; LXD may still be winding down the failed start, so it retries. */
function deleteInstance(name: string): void {
  for (let i = 0; i < 10; i++) {
    if (exec("lxc", ["delete", "--force", name], lxdEnv()).status === 0) return;
    if (exec("lxc", ["info", name], lxdEnv()).status !== 0) return;
    exec("sleep", ["1"]);
  }
  console.error(`templates_lxd.test.ts: could not delete instance ${name}`);
}

test(
  "imago unpack of an imago-built image matches what LXD creates, templates included",
  { skip },
  () => {
    const sb = imagoSandbox();
    const name = instanceName();
    let fp: string | undefined;
    try {
      const src = writeSource(join(sb.dir, "src"));
      sb.imago("build", src, "--alias", "tpl", "--compression", "xz");
      const exported = join(sb.dir, "export");
      mkdirSync(exported);
      sb.imago("export", "tpl", exported);
      fp = lxdImport(...exportedFiles(exported));
      assertSameAsLxd(sb, "tpl", name, lxdInstance(fp, name));
    } finally {
      deleteInstance(name);
      lxdDelete(fp);
      sb.cleanup();
    }
  },
);

test("imago unpack of an LXD export with a squashfs rootfs matches LXD's instance", {
  skip: squashSkip,
}, () => {
  const sb = imagoSandbox();
  const name = instanceName();
  let fp: string | undefined;
  try {
    const src = writeSource(join(sb.dir, "src"));
    const meta = join(sb.dir, "meta.tar.xz");
    execOk("tar", ["-cJf", meta, "-C", src, "metadata.yaml", "templates"]);
    const rootfs = join(sb.dir, "rootfs.squashfs");
    execOk("mksquashfs", [join(src, "rootfs"), rootfs, "-noappend", "-no-progress", "-quiet"]);
    fp = lxdImport(meta, rootfs);
    const exported = join(sb.dir, "lxd-export");
    mkdirSync(exported);
    lxc("image", "export", fp, exported);
    sb.imago("import", ...exportedFiles(exported), "--alias", "sq");
    assertSameAsLxd(sb, "sq", name, lxdInstance(fp, name));
  } finally {
    deleteInstance(name);
    lxdDelete(fp);
    sb.cleanup();
  }
});
