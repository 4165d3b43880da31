import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { createApp } from "../../src/serve/app.ts";
import { humanSize, prefersHtml } from "../../src/serve/catalogue.ts";
import { startServer } from "../../src/serve/server.ts";
import { tempDir } from "../helpers.ts";
import { addUnified, makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { call } from "./request.ts";

let fx: ServeFixture;
before(async () => {
  fx = await makeServeFixture();
  await addUnified(fx.store, fx.dir, "xss", {
    public: true,
    alias: `<img src=x onerror=alert(1)>`,
    spec: { properties: { description: `<script>alert("x")</script> & co`, os: "x" } },
  });
});
after(() => fx.cleanup());

const CHROMIUM = "/usr/bin/chromium";
const IN_CI = !!process.env.CI && process.env.CI !== "false";
const chromiumSkip = !existsSync(CHROMIUM) && !IN_CI ? `${CHROMIUM} is not installed` : false;
const ARTIFACTS = "/tmp/imago-artifacts";

test("prefersHtml() sends HTML to browsers only", () => {
  assert.ok(prefersHtml("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"));
  assert.ok(prefersHtml("text/html"));
  assert.ok(!prefersHtml(null));
  assert.ok(!prefersHtml("*/*"));
  assert.ok(!prefersHtml("application/json, text/html;q=0.9"));
  assert.ok(!prefersHtml("text/html;q=0, */*"));
});

test("humanSize() writes binary units", () => {
  assert.equal(humanSize(512), "512 B");
  assert.equal(humanSize(1536), "1.5 KiB");
  assert.equal(humanSize(3 * 1024 ** 3), "3.0 GiB");
});

test("the catalogue lists public images with the lines to paste, escaped", async () => {
  const app = createApp(fx.store, { remoteName: "myimages" });
  const r = await call(app, "https://images.test:8443/", { headers: { Accept: "text/html" } });
  assert.equal(r.status, 200);
  const html = r.text;
  assert.ok(html.includes("lxc remote add myimages https://images.test:8443 --public"));
  assert.ok(html.includes("lxc image copy myimages:pub-unified local:"));
  for (const rec of [fx.pubUnified, fx.pubSplit, fx.pubVm, fx.pubArm]) {
    assert.ok(html.includes(rec.fingerprint), rec.fingerprint);
    assert.ok(html.includes(rec.properties.description), rec.properties.description);
  }
  assert.ok(html.includes("virtual-machine"));
  assert.ok(html.includes("aarch64"));
  assert.ok(html.includes("2023-11-14"));
  assert.ok(!html.includes("<script>"), "description is escaped");
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co"));
  assert.ok(!html.includes("<img src=x"), "alias is escaped");
  assert.ok(!html.includes("priv-"), "no private alias");
});

function runChromium(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(CHROMIUM, [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--ignore-certificate-errors",
    ...args,
  ], { stdio: ["ignore", "pipe", "ignore"] });
  let stdout = "";
  child.stdout.on("data", (d) => stdout += d);
  // Only a hung browser is stopped; nothing asserts on time.
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    })
  );
}

test("the catalogue renders in headless Chromium over TLS", { skip: chromiumSkip }, async () => {
  const server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  const profile = tempDir("imago-chromium-");
  try {
    const common = [`--user-data-dir=${profile.path}`, "--window-size=1200,800"];
    const dom = await runChromium([...common, "--dump-dom", `${server.url}/`]);
    assert.equal(dom.code, 0);
    assert.match(dom.stdout, /<table id="images">/);
    assert.ok(dom.stdout.includes(`lxc remote add imago ${server.url} --public`));
    assert.ok(dom.stdout.includes("Public unified"));
    assert.ok(dom.stdout.includes(fx.pubSplit.fingerprint));
    assert.ok(!dom.stdout.includes("Private"));
    mkdirSync(ARTIFACTS, { recursive: true });
    const png = join(ARTIFACTS, "catalogue.png");
    const shot = await runChromium([...common, `--screenshot=${png}`, `${server.url}/`]);
    assert.equal(shot.code, 0);
    const bytes = readFileSync(png);
    assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    assert.ok(statSync(png).size > 10_000, "a real page, not a blank one");
  } finally {
    await server.close();
    profile.cleanup();
  }
});
