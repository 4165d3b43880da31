/**
 * The built binary as a client of the real LXD 5.0.2 daemon (scripts/lxd.sh) over HTTPS:
 * `remote add --accept-certificate --public`, `list`, `info` and `copy --alias --copy-aliases`
 * must see the same fingerprints, properties and aliases LXD reports. Then a static URL import
 * from a loopback HTTPS server of the test's own. Skips without lxc/LXD or the binary, except
 * under CI.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomUUID, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttps } from "node:https";
import { createServer as createNet } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { after, before, test } from "node:test";
import { makeSelfSigned } from "../../src/serve/tls.ts";
import { makeSplit, makeUnified } from "../helpers.ts";
import { BIN, execOk, lxc, lxdDelete, lxdEnv, lxdImport, lxdSkip } from "./e2e_helpers.ts";

const skip = lxdSkip();
const TAG = randomUUID().slice(0, 8);
const ALIAS = { unified: `e2e-ru-${TAG}`, split: `e2e-rs-${TAG}` };
let dir = "";
let env: Record<string, string> = {};
const fps: Record<string, string> = {};
let previousAddress = "";
let port = 0;

const imago = (...args: string[]) => execOk(BIN, ["--store", join(dir, "store"), ...args], env);

interface Listed {
  fingerprint: string;
  properties: Record<string, string>;
  aliases: { name: string }[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNet().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on("error", reject);
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "imago-e2e-remote-"));
  env = { ...process.env, NO_COLOR: "1", XDG_CONFIG_HOME: join(dir, "config") } as Record<
    string,
    string
  >;
  const props = { description: `Remote e2e ${TAG}`, os: "e2eos", release: TAG };
  fps.unified = lxdImport(
    makeUnified(dir, "u", { properties: props, compression: "xz" }),
    "--public",
    "--alias",
    ALIAS.unified,
  );
  const split = makeSplit(dir, "s", { properties: { ...props, variant: "split" } });
  fps.split = lxdImport(split.metadata, split.rootfs, "--public", "--alias", ALIAS.split);
  previousAddress = lxc("config", "get", "core.https_address").trim();
  port = await freePort();
  lxc("config", "set", "core.https_address", `127.0.0.1:${port}`);
});

after(() => {
  if (skip) return;
  lxdDelete(fps.unified);
  lxdDelete(fps.split);
  if (previousAddress) lxc("config", "set", "core.https_address", previousAddress);
  else lxc("config", "unset", "core.https_address");
  rmSync(dir, { recursive: true, force: true });
});

function lxdListed(fp: string): Listed {
  const all: Listed[] = JSON.parse(lxc("image", "list", "--format", "json"));
  const img = all.find((i) => i.fingerprint === fp);
  assert.ok(img, `LXD has no image ${fp}`);
  return img;
}

test("remote add pins LXD's certificate; list and info see LXD's images", { skip }, () => {
  const out = imago(
    "remote",
    "add",
    "t",
    `https://127.0.0.1:${port}`,
    "--accept-certificate",
    "--public",
  );
  const der = new X509Certificate(readFileSync(join(lxdEnv().LXD_DIR, "server.crt"))).raw;
  const fp = createHash("sha256").update(der).digest("hex");
  assert.match(out, new RegExp(`Certificate fingerprint: ${fp}`));
  const listed: Listed[] = JSON.parse(imago("list", "t:", "--format", "json"));
  for (const key of ["unified", "split"] as const) {
    const mine = listed.find((i) => i.fingerprint === fps[key]);
    assert.ok(mine, `imago list t: lacks ${key}`);
    const theirs = lxdListed(fps[key]);
    assert.deepEqual(mine.properties, theirs.properties);
    assert.deepEqual(mine.aliases.map((a) => a.name), theirs.aliases.map((a) => a.name));
  }
  const info = imago("info", `t:${ALIAS.split}`);
  assert.match(info, new RegExp(`^Fingerprint: ${fps.split}$`, "m"));
  assert.match(info, new RegExp(`^    variant: split$`, "m"));
});

test("copy t:ALIAS --alias --copy-aliases gives LXD's fingerprint, properties and aliases", {
  skip,
}, () => {
  for (const key of ["unified", "split"] as const) {
    const alias = ALIAS[key];
    imago("copy", `t:${alias}`, "--alias", `A-${key}`, "--copy-aliases");
    const mine: (Listed & { update_source?: { alias: string } })[] = JSON.parse(
      imago("list", "--format", "json"),
    );
    const img = mine.find((i) => i.fingerprint === fps[key]);
    assert.ok(img, `imago has no ${key} image after the copy`);
    const theirs = lxdListed(fps[key]);
    assert.deepEqual(img.properties, theirs.properties);
    assert.deepEqual(
      img.aliases.map((a) => a.name).sort(),
      [`A-${key}`, ...theirs.aliases.map((a) => a.name)].sort(),
    );
    assert.equal(img.update_source?.alias, alias);
  }
});

/** Runs the binary without blocking this process (the test's own server must answer). */
function run(
  args: string[],
  extra: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const child = spawn(BIN, ["--store", join(dir, "store"), ...args], { env: { ...env, ...extra } });
  let out = "";
  child.stdout.on("data", (d) => out += d);
  child.stderr.on("data", (d) => out += d);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

test(
  "import https://… follows LXD-Image-URL from a loopback server and checks the hash",
  { skip },
  async () => {
    const file = readFileSync(makeUnified(dir, "static", {
      properties: { description: `Static ${TAG}`, os: "e2eos", release: "s" },
      compression: "gz",
    }));
    const hash = createHash("sha256").update(file).digest("hex");
    const { cert, key } = makeSelfSigned(["localhost", "127.0.0.1"]);
    const caFile = join(dir, "ca.pem");
    writeFileSync(caFile, cert);
    const heads: string[] = [];
    const server = createHttps({ cert, key, minVersion: "TLSv1.3" }, (req, res) => {
      if (req.method === "HEAD") {
        heads.push(String(req.headers["lxd-server-architectures"]));
        const bad = req.url === "/liar";
        res.writeHead(200, {
          "LXD-Image-Hash": bad ? "c".repeat(64) : hash,
          "LXD-Image-URL": `https://127.0.0.1:${(server.address() as { port: number }).port}/file`,
        }).end();
      } else res.writeHead(200, { "content-length": String(file.byteLength) }).end(file);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      // The server is trusted the way a system CA would be, as LXD's daemon requires.
      const ok = await run(["import", `${base}/image`, "--alias", `static-${TAG}`], {
        NODE_EXTRA_CA_CERTS: caFile,
      });
      assert.equal(ok.code, 0, ok.out);
      assert.match(ok.out, new RegExp(`fingerprint: ${hash}`));
      assert.match(heads[0], /^\w+(, \w+)*$/);
      const bad = await run(["import", `${base}/liar`], { NODE_EXTRA_CA_CERTS: caFile });
      assert.equal(bad.code, 1);
      assert.match(bad.out, /sha256 mismatch/);
      const untrusted = await run(["import", `${base}/image`], {});
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.out, /certificate/i);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
);
