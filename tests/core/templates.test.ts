import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImagoError, UsageError } from "../../src/core/errors.ts";
import { parseMetadata } from "../../src/core/metadata.ts";
import { renderPongo2 } from "../../src/core/pongo2.ts";
import {
  applyTemplates,
  checkInstanceName,
  findTemplate,
  instanceConfig,
  parseConfigFlags,
  renderEntry,
  type TemplateBundle,
  templateContext,
  type TemplateRun,
} from "../../src/core/templates.ts";

const enc = new TextEncoder();
const RUN: TemplateRun = {
  trigger: "create",
  instance: { name: "c1", architecture: "x86_64" },
  config: { "user.foo": "bar\r\n", "user.user-data": "#cloud-config\npackages: [vim]\n" },
};
const DEFAULT_USER = "#cloud-config\n{}\n";

/** Renders `text` with the context LXD gives the template of `path`. */
function render(text: string, run: TemplateRun = RUN, props: Record<string, string> = {}) {
  return renderPongo2(text, "t.tpl", templateContext(run, "/etc/x", props));
}

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), "imago-tpl-"));
});
after(() => rmSync(work, { recursive: true, force: true }));

// The templates of Ubuntu's LXD images and of distrobuilder's cloud-init generator; the expected
// output is what LXD 5.0.2 wrote for the same context (tests/e2e/templates_lxd.test.ts).
const UBUNTU_META = "instance-id: {{ container.name }}\nlocal-hostname: {{ container.name }}\n" +
  '{{ config_get("user.meta-data", "") }}\n';
const UBUNTU_NETWORK = '{% if config_get("user.network-config", "") == "" %}version: 1\n' +
  "config:\n    - type: physical\n      name: eth0\n      subnets:\n" +
  '          - type: {% if config_get("user.network_mode", "") == "link-local" %}manual' +
  "{% else %}dhcp{% endif %}\n            control: auto" +
  '{% else %}{{ config_get("user.network-config", "") }}{% endif %}\n';
const DISTRO_USER = '{%- if config_get("cloud-init.user-data", properties.default) == ' +
  "properties.default -%}\n" + '{{ config_get("user.user-data", properties.default) }}\n' +
  '{%- else -%}\n{{- config_get("cloud-init.user-data", properties.default) }}\n{%- endif %}\n';

test("renderPongo2() renders Ubuntu's cloud-init meta-data template as LXD does", () => {
  assert.equal(render(UBUNTU_META), "instance-id: c1\nlocal-hostname: c1\n\n");
  const withMeta = { ...RUN, config: { "user.meta-data": "public-keys: [k]\n" } };
  assert.equal(
    render(UBUNTU_META, withMeta),
    "instance-id: c1\nlocal-hostname: c1\npublic-keys: [k]\n",
  );
});

test("renderPongo2() renders Ubuntu's network-config template with and without user config", () => {
  assert.equal(
    render(UBUNTU_NETWORK),
    "version: 1\nconfig:\n    - type: physical\n      name: eth0\n      subnets:\n" +
      "          - type: dhcp\n            control: auto\n",
  );
  const linkLocal = { ...RUN, config: { "user.network_mode": "link-local" } };
  assert.match(render(UBUNTU_NETWORK, linkLocal), /- type: manual\n/);
  const own = { ...RUN, config: { "user.network-config": "version: 2\n" } };
  assert.equal(render(UBUNTU_NETWORK, own), "version: 2\n");
});

test("renderPongo2() renders distrobuilder's user-data template with whitespace control", () => {
  const props = { default: DEFAULT_USER };
  assert.equal(render(DISTRO_USER, { ...RUN, config: {} }, props), `${DEFAULT_USER}\n`);
  assert.equal(render(DISTRO_USER, RUN, props), "#cloud-config\npackages: [vim]\n");
  const ci = { ...RUN, config: { "cloud-init.user-data": "#cloud-config\na: 1" } };
  assert.equal(render(DISTRO_USER, ci, props), "#cloud-config\na: 1\n");
});

test("templateContext() exposes the instance as LXD does, under instance and container", () => {
  const out = render(
    "{{ trigger }} {{ path }} {{ instance.name }} {{ instance.type }} {{ instance.architecture }} " +
      "{{ instance.ephemeral }} {{ instance.privileged }} {{ container.name }}",
  );
  assert.equal(out, "create /etc/x c1 container x86_64 false false c1");
  const vm = templateContext(
    { ...RUN, instance: { ...RUN.instance, type: "virtual-machine" } },
    "/",
    {},
  );
  assert.equal("privileged" in (vm.instance as object), false);
});

test("config_get() trims trailing CR/LF, returns the default as given, and needs 2 arguments", () => {
  assert.equal(render('[{{ config_get("user.foo", "x") }}]'), "[bar]");
  assert.equal(render('[{{ config_get("user.nope", "x") }}]'), "[x]");
  assert.equal(render('[{{ config_get("user.nope", properties.nope) }}]'), "[]");
  // pongo2 refuses a call with one argument, so LXD fails the template.
  assert.throws(() => render('{{ config_get("user.foo") }}'), /config_get takes 2 arguments/);
});

test("renderPongo2() prints values as pongo2 does: True/False, floats, nothing for nil", () => {
  assert.equal(
    render('{{ "a" == "a" }} {{ "a" != "a" }} {{ 1.5 }} {{ 2 }}'),
    "True False 1.500000 2",
  );
  assert.equal(render("[{{ True }}] [{{ missing }}] [{{ missing.deeper }}]"), "[] [] []");
});

test("renderPongo2() compares like pongo2: same type and value", () => {
  assert.equal(
    render('{{ 1 == "1" }} {{ "1" == "1" }} {{ missing == missing }}'),
    "False True True",
  );
  assert.equal(render('{{ "10" > 2 }} {{ 2 > 10 }} {{ 1 <> 2 }}'), "True False True");
});

test("renderPongo2() gives not, and, or pongo2's meaning and grouping", () => {
  assert.equal(
    render('{{ not "" }} {{ not 5 }} {{ "x" and "" }} {{ "" or "y" }}'),
    "True 0 False True",
  );
  // pongo2 reads `not a == b` as `(not a) == b`.
  assert.equal(render('{% if not "x" == "" %}T{% else %}F{% endif %}'), "F");
  // pongo2 reads `a and b or c` as `a and (b or c)`.
  assert.equal(render('{% if "" and "" or "y" %}T{% else %}F{% endif %}'), "F");
  assert.equal(render('{{ "a" && "b" }} {{ "" || "" }} {{ !"" }}'), "True False True");
});

test("renderPongo2() treats empty maps as false, as pongo2 does", () => {
  const run = { ...RUN, config: {} };
  assert.equal(render("{% if config %}T{% else %}F{% endif %}", run), "F");
  assert.equal(render("{% if devices %}T{% else %}F{% endif %}", run), "F");
  assert.equal(render("{% if properties %}T{% else %}F{% endif %}", run, { a: "b" }), "T");
});

test("renderPongo2() takes pongo2 filter arguments and filter meanings", () => {
  assert.equal(
    render('{{ ""|default:"d" }} {{ missing|default:"d" }} {{ "v"|default:"d" }}'),
    "d d v",
  );
  assert.equal(render('{{ missing|default_if_none:"n" }} [{{ ""|default_if_none:"n" }}]'), "n []");
  assert.equal(
    render('{{ "abc"|capfirst }} {{ "a-b-c"|cut:"-" }} {{ "héllo"|length }}'),
    "Abc abc 5",
  );
  assert.equal(render('{{ ""|yesno:"y,n" }} {{ "x"|yesno }} {{ missing|yesno }}'), "n yes maybe");
  assert.equal(render('{{ 1|add:2 }} {{ "a"|add:"b" }} {{ "A|b"|lower }}'), "3 ab a|b");
  assert.equal(render('{{ config_get("user.foo", "")|upper }}'), "BAR");
});

test("renderPongo2() walks maps in key order, with forloop and {% empty %}", () => {
  const run = { ...RUN, config: { b: "2", a: "1" } };
  assert.equal(render("{% for k in config %}{{ k }}{% endfor %}", run), "ab");
  assert.equal(
    render("{% for k, v in config %}{{ forloop.Counter }}{{ k }}={{ v }};{% endfor %}", run),
    "1a=1;2b=2;",
  );
  assert.equal(render("{% for k in devices %}x{% empty %}none{% endfor %}", run), "none");
});

test("renderPongo2() leaves strings, comments and raw blocks alone", () => {
  assert.equal(render('{{ "a || b:c && !d" }}{# x || y #}'), "a || b:c && !d");
  assert.equal(render("{% raw %}{{ a || b }}{% endraw %}"), "{{ a || b }}");
  assert.equal(render("plain {text} 100%"), "plain {text} 100%");
});

test("renderPongo2() reports bad syntax as one line naming the template", () => {
  assert.throws(
    () => render("{% if %}"),
    (err: unknown) =>
      err instanceof ImagoError && /^Cannot render template "t.tpl": /.test(err.message),
  );
});

test("renderPongo2() includes files from the root and refuses paths leaving it", () => {
  const root = mkdtempSync(join(work, "root-"));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc", "part"), "part={{ instance.name }}");
  writeFileSync(join(work, "outside"), "secret");
  symlinkSync(join(work, "outside"), join(root, "etc", "escape"));
  const ctx = templateContext(RUN, "/etc/x", {});
  assert.equal(renderPongo2('{% include "/etc/part" %}!', "t", ctx, root), "part=c1!");
  assert.equal(renderPongo2('{% include "etc/part" %}', "t", ctx, root), "part=c1");
  for (const bad of ["/../outside", "/etc/escape"]) {
    assert.throws(
      () => renderPongo2(`{% include "${bad}" %}`, "t", ctx, root),
      /outside the instance/,
    );
  }
  assert.throws(() => renderPongo2('{% include "/etc/part" %}', "t", ctx), /no root filesystem/);
});

test("checkInstanceName() follows LXD's hostname rule", () => {
  for (const ok of ["c1", "web-01", "A"]) checkInstanceName(ok);
  for (const bad of ["", "-a", "a-", "a_b", "123", "x".repeat(64), "a.b"]) {
    assert.throws(() => checkInstanceName(bad), UsageError, bad);
  }
});

test("parseConfigFlags() and instanceConfig() build LXD's instance config", () => {
  assert.deepEqual(parseConfigFlags(["a=1", "b=x=y", "c="]), { a: "1", b: "x=y", c: "" });
  assert.throws(() => parseConfigFlags(["novalue"]), UsageError);
  assert.deepEqual(instanceConfig("ff", { os: "ubuntu" }, { "user.a": "1" }), {
    "image.os": "ubuntu",
    "volatile.base_image": "ff",
    "user.a": "1",
  });
});

/** A bundle from metadata.yaml's templates section and template texts. */
function bundle(templates: string, files: Record<string, string>): TemplateBundle {
  const yaml = `architecture: x86_64\ncreation_date: 1700000000\ntemplates:\n${templates}`;
  return {
    metadata: parseMetadata(yaml),
    templates: new Map(Object.entries(files).map(([k, v]) => [k, enc.encode(v)])),
  };
}

test("findTemplate() finds a template by target path or file name, else lists them", () => {
  const b = bundle("  /etc/hostname:\n    when: [create]\n    template: h.tpl\n", { "h.tpl": "x" });
  assert.equal(findTemplate(b, "/etc/hostname")[0], "/etc/hostname");
  assert.equal(findTemplate(b, "h.tpl")[0], "/etc/hostname");
  assert.throws(() => findTemplate(b, "nope"), /the image has \/etc\/hostname \(h\.tpl\)/);
  const missing = bundle("  /a:\n    when: [create]\n    template: gone.tpl\n", {});
  assert.throws(() => renderEntry(missing, "/a", findTemplate(missing, "/a")[1], RUN), /missing/);
});

test("applyTemplates() writes by trigger, honours create_only and sets LXD's modes", async () => {
  const root = mkdtempSync(join(work, "apply-"));
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc", "hostname"), "old\n");
  chmodSync(join(root, "etc", "hostname"), 0o600);
  writeFileSync(join(root, "etc", "keep"), "kept\n");
  symlinkSync("hostname", join(root, "etc", "alias"));
  const b = bundle(
    [
      "  /etc/hostname:\n    when: [create, copy]\n    template: h.tpl\n",
      "  /etc/keep:\n    when: [create]\n    create_only: true\n    template: h.tpl\n",
      "  /etc/fresh:\n    when: [create]\n    create_only: true\n    template: h.tpl\n",
      "  /var/lib/new/deep/file:\n    when: [create]\n    template: h.tpl\n",
      "  /etc/started:\n    when: [start]\n    template: h.tpl\n",
      "  /etc/alias:\n    when: [copy]\n    template: h.tpl\n",
    ].join(""),
    { "h.tpl": "{{ instance.name }}/{{ trigger }}\n" },
  );
  const res = await applyTemplates(root, b, RUN);
  assert.deepEqual(res.written, ["/etc/fresh", "/etc/hostname", "/var/lib/new/deep/file"]);
  assert.deepEqual(res.skipped, ["/etc/keep"]);
  assert.equal(readFileSync(join(root, "etc", "hostname"), "utf8"), "c1/create\n");
  assert.equal(statSync(join(root, "etc", "hostname")).mode & 0o7777, 0o600); // kept
  assert.equal(readFileSync(join(root, "etc", "keep"), "utf8"), "kept\n");
  assert.equal(statSync(join(root, "etc", "fresh")).mode & 0o7777, 0o644);
  for (const d of ["var", "var/lib", "var/lib/new", "var/lib/new/deep"]) {
    assert.equal(statSync(join(root, d)).mode & 0o7777, 0o755, d);
  }
  assert.equal(existsSync(join(root, "etc", "started")), false);
  // A symlink inside the root is written through, as LXD's os.Create follows it.
  await applyTemplates(root, b, { ...RUN, trigger: "copy" });
  assert.equal(readFileSync(join(root, "etc", "hostname"), "utf8"), "c1/copy\n");
});

test("applyTemplates() refuses targets leaving the root and writes nothing there", async () => {
  const root = mkdtempSync(join(work, "hostile-"));
  const outside = mkdtempSync(join(work, "outside-"));
  writeFileSync(join(outside, "victim"), "untouched\n");
  symlinkSync(outside, join(root, "etc"));
  symlinkSync(join(outside, "victim"), join(root, "victim"));
  const cases: [string, RegExp][] = [
    ["/../../victim", /without ".."/],
    ["/etc/victim", /through a symlink/],
    ["/etc/sub/new", /through a symlink/],
    ["/victim", /outside the instance/],
  ];
  for (const [path, why] of cases) {
    const b = bundle(`  ${path}:\n    when: [create]\n    template: h.tpl\n`, {
      "h.tpl": "pwned\n",
    });
    await assert.rejects(applyTemplates(root, b, RUN), why, path);
  }
  assert.equal(readFileSync(join(outside, "victim"), "utf8"), "untouched\n");
  assert.equal(existsSync(join(outside, "sub")), false);
});
