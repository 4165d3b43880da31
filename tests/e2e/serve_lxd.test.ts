/**
 * `imago serve` against the real LXD 5.0.2: stock `lxc` and the daemon use it as an LXD remote,
 * a simplestreams remote and a static URL. Needs the binary ($IMAGO_BIN or dist/imago) and the
 * daemon of scripts/lxd.sh; skips without them, except under CI. The server's certificate is
 * signed by the test CA that scripts/lxd.sh installs before starting the daemon, so LXD and
 * lxc trust it the way they trust any real image server.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID, X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import { makeSplit, makeUnified } from "../helpers.ts";
import {
  BIN,
  exec,
  execOk,
  hasCommand,
  imagoSandbox,
  IN_CI,
  lxdEnv,
  lxdSkip,
  ROOT,
} from "./e2e_helpers.ts";

/** The test CA's files, from the caller's environment or scripts/lxd.sh's. */
function testCa(): { cert: string; key: string } {
  let cert = process.env.IMAGO_TEST_CA_CERT;
  let key = process.env.IMAGO_TEST_CA_KEY;
  if (!cert || !key) {
    const out = execOk("bash", [join(ROOT, "scripts/lxd.sh"), "env"]);
    cert = /^export IMAGO_TEST_CA_CERT=(.*)$/m.exec(out)?.[1];
    key = /^export IMAGO_TEST_CA_KEY=(.*)$/m.exec(out)?.[1];
  }
  return { cert: cert ?? "", key: key ?? "" };
}

const lxdReason = lxdSkip("openssl");
const CA = lxdReason ? { cert: "", key: "" } : testCa();
const skip = lxdReason ||
  (!IN_CI && !existsSync(CA.cert)
    ? `no test CA at "${CA.cert}": start the daemon with "bash scripts/lxd.sh start" as root`
    : false);
const TAG = randomUUID().slice(0, 8);
const ALIAS = {
  unified: `e2e-u-${TAG}`,
  split: `e2e-s-${TAG}`,
  squash: `e2e-q-${TAG}`,
  priv: `e2e-p-${TAG}`,
};

let box: ReturnType<typeof imagoSandbox>;
let server: ChildProcess | undefined;
let serverLog = "";
let url = "";
let lxcConf = "";
let trustedConf = "";
const fps: Record<string, string> = {};
/** Images copied into the shared daemon, removed at the end. */
const copied = new Set<string>();

/** `lxc` with a client config of our own, so remotes added here touch no one else's. */
function lxcEnv(): Record<string, string> {
  return { ...lxdEnv(), LXD_CONF: lxcConf };
}
const lxc = (...args: string[]) => execOk("lxc", args, lxcEnv());
const lxcTry = (...args: string[]) => exec("lxc", args, lxcEnv());

function localFingerprints(): string[] {
  return JSON.parse(lxc("image", "list", "local:", "--format", "json"))
    .map((i: { fingerprint: string }) => i.fingerprint);
}

/** Copies ALIAS from `remote` into the daemon and checks the fingerprint LXD computed. */
function copyAndCheck(remote: string, alias: string, fp: string): void {
  assert.ok(!localFingerprints().includes(fp), `LXD already has ${fp}`);
  lxc("image", "copy", `${remote}:${alias}`, "local:");
  copied.add(fp);
  assert.ok(localFingerprints().includes(fp), `LXD has no image ${fp} after the copy`);
  lxc("image", "delete", `local:${fp}`);
  copied.delete(fp);
}

function importImage(args: string[]): string {
  const out = box.imago("import", ...args);
  const m = /fingerprint: ([0-9a-f]{64})/.exec(out);
  assert.ok(m, out);
  return m[1];
}

/**
 * The child's exit code. Polls as well as listening: under Deno a child spawned in a before()
 * hook does not keep the event loop alive by itself.
 */
async function waitExit(child: ChildProcess): Promise<number | null> {
  const done = () => child.exitCode !== null || child.signalCode !== null;
  // stderr may still hold the last lines when the exit is seen.
  const drained = () => !child.stderr || child.stderr.readableEnded || child.stderr.destroyed;
  while (!done() || !drained()) await new Promise((r) => setTimeout(r, 50));
  return child.exitCode;
}

function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      serverLog += d;
      const m = /Listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(serverLog);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`imago serve exited ${code}: ${serverLog}`)));
  });
}

before(async () => {
  if (skip) return;
  box = imagoSandbox("imago-serve-e2e-");
  lxcConf = mkdtempSync(join(tmpdir(), "imago-lxc-conf-"));
  const files = (name: string) => ({ files: { "id.txt": `${name} ${randomUUID()}\n` } });
  const props = (release: string) => ({ description: `e2e ${release}`, os: "e2eos", release });
  const u = makeUnified(box.dir, "u", { compression: "gz", ...files("u"), properties: props("u") });
  fps.unified = importImage([u, "--public", "--alias", ALIAS.unified]);
  const s = makeSplit(box.dir, "s", { compression: "gz", ...files("s"), properties: props("s") });
  fps.split = importImage([s.metadata, s.rootfs, "--public", "--alias", ALIAS.split]);
  if (hasCommand("mksquashfs")) {
    const q = makeSplit(box.dir, "q", { compression: "gz", ...files("q"), properties: props("q") });
    const src = join(box.dir, "q.root");
    mkdirSync(src);
    execOk("tar", ["-xzf", q.rootfs, "-C", src]);
    const sq = join(box.dir, "q.squashfs");
    execOk("mksquashfs", [src, sq, "-noappend", "-quiet", "-all-root"]);
    fps.squash = importImage([q.metadata, sq, "--public", "--alias", ALIAS.squash]);
  }
  const p = makeUnified(box.dir, "p", { compression: "gz", ...files("p"), properties: props("p") });
  fps.priv = importImage([p, "--alias", ALIAS.priv]);

  // A second lxc config whose client certificate imago serve trusts, made before lxc first
  // connects (it would ask for a trust password). lxc presents a certificate it has even to
  // --public remotes, so the other tests keep a config without one.
  trustedConf = mkdtempSync(join(tmpdir(), "imago-lxc-trusted-"));
  execOk("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:secp384r1",
    "-nodes",
    "-keyout",
    join(trustedConf, "client.key"),
    "-out",
    join(trustedConf, "client.crt"),
    "-days",
    "30",
    "-subj",
    "/CN=imago-e2e-lxc",
  ]);
  box.imago("trust", "add", join(trustedConf, "client.crt"));

  const tls = join(box.dir, "tls");
  execOk("bash", [join(ROOT, "scripts/lxd.sh"), "issue-cert", tls]);
  const serveArgs = ["serve", "--listen", "127.0.0.1:0"];
  serveArgs.push("--tls-cert", join(tls, "server.crt"), "--tls-key", join(tls, "server.key"));
  server = spawn(BIN, ["--store", join(box.dir, "store"), ...serveArgs], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.resume();
  url = await waitForListening(server);
});

after(async () => {
  if (skip) return;
  for (const fp of copied) exec("lxc", ["image", "delete", `local:${fp}`], lxcEnv());
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await waitExit(server);
  }
  rmSync(lxcConf, { recursive: true, force: true });
  if (trustedConf) rmSync(trustedConf, { recursive: true, force: true });
  box.cleanup();
});

test(
  "lxc remote add --public accepts imago serve and lists exactly the public images",
  { skip },
  () => {
    lxc("remote", "add", "t", url, "--public", "--accept-certificate");
    const listed = JSON.parse(lxc("image", "list", "t:", "--format", "json"));
    const want = [fps.unified, fps.split, fps.squash].filter(Boolean).sort();
    assert.deepEqual(listed.map((i: { fingerprint: string }) => i.fingerprint).sort(), want);
    const u = listed.find((i: { fingerprint: string }) => i.fingerprint === fps.unified);
    assert.deepEqual(u.aliases.map((a: { name: string }) => a.name), [ALIAS.unified]);
    assert.equal(u.properties.description, "e2e u");
  },
);

test("lxc image info shows a public image and treats a private one as missing", { skip }, () => {
  const info = lxc("image", "info", `t:${ALIAS.split}`);
  assert.match(info, new RegExp(`^Fingerprint: ${fps.split}$`, "m"));
  assert.match(info, /^Public: yes$/m);
  const priv = lxcTry("image", "info", `t:${ALIAS.priv}`);
  assert.notEqual(priv.status, 0);
  assert.ok(!priv.stderr.includes(fps.priv), priv.stderr);
});

test("lxc image copy from the LXD remote gives LXD the same fingerprints", { skip }, () => {
  copyAndCheck("t", ALIAS.unified, fps.unified);
  copyAndCheck("t", ALIAS.split, fps.split);
  if (fps.squash) copyAndCheck("t", ALIAS.squash, fps.squash);
});

/** Waits up to 5 s for the server's log to show `re` (its stderr arrives asynchronously). */
async function logged(re: RegExp): Promise<void> {
  for (let i = 0; i < 100 && !re.test(serverLog); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(serverLog, re);
}

test(
  "a trusted lxc copies a private image into LXD through a download secret",
  { skip },
  async () => {
    const env = { ...lxdEnv(), LXD_CONF: trustedConf };
    const trusted = (...args: string[]) => execOk("lxc", args, env);
    // Not --public: lxc presents its client certificate, which imago serve trusts.
    trusted("remote", "add", "tp", url, "--accept-certificate");
    const listed = JSON.parse(trusted("image", "list", "tp:", "--format", "json"));
    assert.ok(listed.some((i: { fingerprint: string }) => i.fingerprint === fps.priv));
    // lxc asks imago serve for a secret and hands it to the daemon, which is not trusted.
    assert.ok(!localFingerprints().includes(fps.priv), `LXD already has ${fps.priv}`);
    trusted("image", "copy", `tp:${ALIAS.priv}`, "local:");
    copied.add(fps.priv);
    assert.ok(localFingerprints().includes(fps.priv), "LXD has no copy of the private image");
    lxc("image", "delete", `local:${fps.priv}`);
    copied.delete(fps.priv);
    await logged(/"POST \/1\.0\/images\/[0-9a-f]{64}\/secret[^"]*" 202 /);
    await logged(/"GET \/1\.0\/images\/[0-9a-f]{64}\/export\?[^"]*secret=-[^"]*" 200 /);
  },
);

test("lxc uses imago serve as a simplestreams remote (list and copy)", { skip }, () => {
  // Nothing pinned: lxc and the daemon trust the certificate through the system's CA store.
  lxc("remote", "add", "s", url, "--protocol=simplestreams");
  const listed = JSON.parse(lxc("image", "list", "s:", "--format", "json"));
  const got = [...new Set(listed.map((i: { fingerprint: string }) => i.fingerprint))].sort();
  assert.deepEqual(got, [fps.unified, fps.split, fps.squash].filter(Boolean).sort());
  copyAndCheck("s", ALIAS.unified, fps.unified);
  copyAndCheck("s", ALIAS.split, fps.split);
  if (fps.squash) copyAndCheck("s", ALIAS.squash, fps.squash);
});

test("lxc image import https://…/static/ALIAS imports the unified image", { skip }, () => {
  const alias = `e2e-url-${TAG}`;
  try {
    const target = `${url}/static/${ALIAS.unified}`;
    const r = lxcTry("image", "import", target, "--alias", alias);
    assert.equal(
      r.status,
      0,
      /unknown authority/.test(r.stderr)
        ? `the daemon does not trust the test CA; restart it: scripts/lxd.sh stop; ` +
          `scripts/lxd.sh start: ${r.stderr}`
        : r.stderr,
    );
    copied.add(fps.unified);
    const a = JSON.parse(lxc("image", "alias", "list", "local:", "--format", "json"))
      .find((x: { name: string }) => x.name === alias);
    assert.equal(a?.target, fps.unified);
    // A split image cannot be imported from a URL; the server says so.
    const split = lxcTry("image", "import", `${url}/static/${ALIAS.split}`);
    assert.notEqual(split.status, 0);
  } finally {
    exec("lxc", ["image", "alias", "delete", `local:${alias}`], lxcEnv());
  }
});

test("imago serve stops cleanly on SIGTERM and logged every request", { skip }, async () => {
  assert.ok(server && server.exitCode === null, "server still running");
  server!.kill("SIGTERM");
  const code = await waitExit(server!);
  // Deno reports (null, "SIGTERM") even when the child handled the signal and exited 0; the
  // "Shutting down" line below shows it did.
  assert.ok(code === 0 || ("Deno" in globalThis && code === null), `exit code ${code}`);
  assert.match(serverLog, /"GET \/1\.0\/images\/[0-9a-f]{64}\/export\?project=default" 200 /);
  assert.match(serverLog, /"GET \/streams\/v1\/images\.json" 200 /);
  assert.match(serverLog, /Shutting down/);
  // It served the CA-signed certificate it was given and generated none of its own.
  const leaf = new X509Certificate(readFileSync(join(box.dir, "tls", "server.crt")));
  const fp = leaf.fingerprint256.replaceAll(":", "").toLowerCase();
  assert.match(serverLog, new RegExp(`Certificate fingerprint: ${fp}`));
  assert.ok(leaf.verify(new X509Certificate(readFileSync(CA.cert)).publicKey));
  assert.ok(!existsSync(join(box.dir, "store", "server.key")));
});
