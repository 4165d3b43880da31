/** `imago remote …` and `imago config …` in-process, with a loopback LXD stand-in. */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { certificateFingerprint } from "../../src/plugins/remotes/tls_pin.ts";
import { fakeImage, type FakeLxd, startLxd } from "../plugins/remotes/lxd_server.ts";
import { type CliOptions, sandbox } from "./harness.ts";

const box = sandbox();
const config = join(box.dir, "config");
const env = { XDG_CONFIG_HOME: config, HOME: box.dir };
const cli = (args: string[], opts: CliOptions = {}) => box.cli(args, { env, ...opts });
let server: FakeLxd;

before(async () => {
  server = await startLxd([fakeImage(box.dir, "one", { aliases: ["one"] })]);
});
after(async () => {
  await server.close();
  box.cleanup();
});

const configYaml = () => parse(readFileSync(join(config, "imago", "config.yml"), "utf8"));

test("remote list shows lxc's defaults, local current", async () => {
  const r = await cli(["remote", "list", "--format", "csv"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    [
      "images,https://images.linuxcontainers.org,simplestreams,none,YES,NO,NO",
      "local (current),unix://,lxd,file access,NO,YES,NO",
      "ubuntu,https://cloud-images.ubuntu.com/releases,simplestreams,none,YES,YES,NO",
      "ubuntu-daily,https://cloud-images.ubuntu.com/daily,simplestreams,none,YES,YES,NO",
      "",
    ].join("\n"),
  );
});

test("remote add refuses an untrusted certificate without a terminal or --accept-certificate", async () => {
  const r = await cli(["remote", "add", "nope", server.url, "--public"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stdout,
    new RegExp(`Certificate fingerprint: ${certificateFingerprint(server.cert)}`),
  );
  assert.match(r.stderr, /not trusted by this system.*--accept-certificate/);
  const n = await cli(["remote", "add", "nope", server.url, "--public"], {
    stdinIsTTY: true,
    stdin: "n\n",
  });
  assert.equal(n.code, 1);
  assert.match(n.stderr, /NACKed by user/);
  assert.ok(!existsSync(join(config, "imago", "servercerts", "nope.crt")));
});

test("remote add pins the certificate after a y on the terminal, or with --accept-certificate", async () => {
  const y = await cli(["remote", "add", "asked", server.url, "--public"], {
    stdinIsTTY: true,
    stdin: "y\n",
  });
  assert.equal(y.code, 0, y.stderr);
  assert.match(y.stderr, /ok \(y\/n\/\[fingerprint\]\)\?/);
  const r = await cli(["remote", "add", "t", server.url, "--public", "--accept-certificate"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(configYaml().remotes.t, { addr: server.url, public: true });
  const pinned = readFileSync(join(config, "imago", "servercerts", "t.crt"), "utf8");
  assert.equal(certificateFingerprint(pinned), certificateFingerprint(server.cert));
  const list = await cli(["remote", "list", "--format", "csv"]);
  assert.match(list.stdout, new RegExp(`^t,${server.url},lxd,tls,YES,NO,NO$`, "m"));
  const dup = await cli(["remote", "add", "t", server.url, "--public"]);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /Remote "t" exists as </);
});

test("remote add of simplestreams contacts nothing and wants https", async () => {
  const before = server.requests.length;
  const ok = await cli([
    "remote",
    "add",
    "ss",
    "https://127.0.0.1:1/base/",
    "--protocol",
    "simplestreams",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(server.requests.length, before);
  assert.deepEqual(configYaml().remotes.ss, {
    addr: "https://127.0.0.1:1/base",
    protocol: "simplestreams",
    public: true,
  });
  const http = await cli(["remote", "add", "ss2", "http://x", "--protocol", "simplestreams"]);
  assert.equal(http.code, 2);
  assert.match(http.stderr, /Only https URLs are supported for simplestreams/);
  const unknown = await cli(["remote", "add", "zz", "https://x", "--protocol", "gopher"]);
  assert.equal(unknown.code, 1);
  assert.match(
    unknown.stderr,
    /Unknown remote protocol "gopher": known are direct, lxd, simplestreams/,
  );
});

test("remote rename, switch, get-default and remove follow lxc's rules", async () => {
  assert.equal((await cli(["remote", "rename", "asked", "renamed"])).code, 0);
  assert.ok(existsSync(join(config, "imago", "servercerts", "renamed.crt")));
  assert.equal((await cli(["remote", "switch", "renamed"])).code, 0);
  assert.equal((await cli(["remote", "get-default"])).stdout, "renamed\n");
  const busy = await cli(["remote", "remove", "renamed"]);
  assert.match(busy.stderr, /it is the default remote/);
  assert.equal((await cli(["remote", "switch", "local"])).code, 0);
  assert.equal((await cli(["remote", "remove", "renamed"])).code, 0);
  assert.ok(!existsSync(join(config, "imago", "servercerts", "renamed.crt")));
  const fixed = await cli(["remote", "remove", "ubuntu"]);
  assert.equal(fixed.code, 1);
  assert.match(fixed.stderr, /Remote ubuntu is static and cannot be modified/);
  const missing = await cli(["remote", "rename", "ghost", "x"]);
  assert.match(missing.stderr, /Remote "ghost" doesn't exist/);
  const colon = await cli(["remote", "add", "a:b", "https://x", "--protocol", "simplestreams"]);
  assert.equal(colon.code, 2);
  // The default "images" remote may go; it then stays gone.
  assert.equal((await cli(["remote", "remove", "images"])).code, 0);
  assert.doesNotMatch((await cli(["remote", "list"])).stdout, /images\.linuxcontainers/);
});

test("config get/set/unset checks values and falls back to LXD's defaults", async () => {
  const get = async (k: string) => (await cli(["config", "get", k])).stdout.trim();
  assert.equal(await get("images.remote_cache_expiry"), "10");
  assert.equal(await get("images.auto_update_interval"), "6");
  assert.equal(await get("images.auto_update_cached"), "true");
  assert.equal(await get("images.compression_algorithm"), "gzip");
  assert.equal((await cli(["config", "set", "images.remote_cache_expiry", "3"])).code, 0);
  assert.equal(await get("images.remote_cache_expiry"), "3");
  assert.equal((await cli(["config", "set", "images.compression_algorithm", "xz"])).code, 0);
  const bad = await cli(["config", "set", "images.compression_algorithm", "rar"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Invalid value for "images.compression_algorithm": "rar": use one of/);
  assert.match(
    (await cli(["config", "set", "images.auto_update_interval", "x"])).stderr,
    /not a whole number/,
  );
  assert.match(
    (await cli(["config", "set", "images.auto_update_cached", "maybe"])).stderr,
    /use true or false/,
  );
  assert.equal((await cli(["config", "get", "core.nothing"])).code, 2);
  assert.equal((await cli(["config", "unset", "images.remote_cache_expiry"])).code, 0);
  assert.equal(await get("images.remote_cache_expiry"), "10");
});
