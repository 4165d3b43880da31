import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeSelfSigned } from "../../src/serve/tls.ts";
import { sandbox } from "../cli/harness.ts";
import { tsRunner } from "../runtime_helpers.ts";
import { makeUnified } from "../helpers.ts";

const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

test("imago trust add, list and remove manage the client certificates serve trusts", async () => {
  const box = sandbox();
  try {
    const { cert } = makeSelfSigned(["client"], { commonName: "laptop" });
    const file = join(box.dir, "client.crt");
    writeFileSync(file, cert);
    const added = await box.cli(["trust", "add", file]);
    assert.equal(added.code, 0, added.stderr);
    const fp = /Trusted certificate ([0-9a-f]{64})/.exec(added.stderr)?.[1];
    assert.ok(fp, added.stderr);
    const again = await box.cli(["trust", "add", file]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already trusted/);
    const list = JSON.parse((await box.cli(["trust", "list", "--format", "json"])).stdout);
    assert.deepEqual(
      list.map((e: { name: string; fingerprint: string }) => [e.name, e.fingerprint]),
      [
        ["laptop", fp],
      ],
    );
    assert.equal((await box.cli(["trust", "remove", fp.slice(0, 8)])).code, 0);
    assert.deepEqual(JSON.parse((await box.cli(["trust", "list", "-f", "json"])).stdout), []);
    const missing = await box.cli(["trust", "remove", "abcdef"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Trusted certificate "abcdef" not found/);
    const bad = await box.cli(["trust", "add", join(box.dir, "nope.crt")]);
    assert.equal(bad.code, 1);
  } finally {
    box.cleanup();
  }
});

test("imago serve prints its URL and fingerprint and exits 0 on SIGTERM", async () => {
  const box = sandbox();
  try {
    const img = makeUnified(box.dir, "cli-serve", { compression: "gz" });
    assert.equal((await box.cli(["import", img, "--public", "--alias", "x"])).code, 0);
    const [cmd, ...pre] = tsRunner();
    const child = spawn(cmd, [
      ...pre,
      MAIN,
      "--store",
      box.store,
      "serve",
      "--listen",
      "127.0.0.1:0",
    ], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stderr.on("data", (d) => {
        err += d;
        const m = /Listening on (https:\/\/127\.0\.0\.1:\d+) \(1 public image\)/.exec(err);
        if (m && /Certificate fingerprint: [0-9a-f]{64}\n/.test(err)) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    const res = await new Promise<number>((resolve, reject) => {
      import("node:https").then(({ get }) => {
        get(`${url}/1.0`, { rejectUnauthorized: false }, (r) => {
          r.resume();
          r.on("end", () => resolve(r.statusCode ?? 0));
        }).on("error", reject);
      });
    });
    assert.equal(res, 200);
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    const drained = new Promise((r) => child.stderr.on("close", r));
    child.kill("SIGTERM");
    const [code] = await Promise.all([exited, drained]);
    // Deno's child_process reports (null, "SIGTERM") even when the child handled the signal
    // and exited 0; the "Shutting down" line below shows it did.
    assert.ok(code === 0 || ("Deno" in globalThis && code === null), `exit code ${code}`);
    assert.match(err, /"GET \/1\.0" 200 \d+ \d+ms/);
    assert.match(err, /Shutting down/);
    const bad = await box.cli(["serve", "--listen", "nowhere"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Invalid listen address "nowhere"/);
  } finally {
    box.cleanup();
  }
});
