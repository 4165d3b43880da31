/**
 * Downloads through the real server, where sendDirect writes file bodies from two reused
 * buffers: bytes must arrive exact even when the client reads late (a buffer reused before its
 * write was flushed would corrupt them), ranges and multipart included, and a hang-up must close
 * the file.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import type { ImageRecord } from "../../src/core/model.ts";
import { type RunningServer, startServer } from "../../src/serve/server.ts";
import { addSplit, addUnified, makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { sha256Hex } from "./request.ts";

let fx: ServeFixture;
let server: RunningServer;
let big: ImageRecord;
let split: ImageRecord;

/**
 * Plain-tar images larger than what the loopback socket buffers hold, so the server's writes
 * back up while the client waits, and span many of sendDirect's 512 KiB buffers.
 */
const noise = (mib: number) => ({
  compression: "" as const,
  files: { "noise.txt": randomBytes(mib << 19).toString("hex") },
});

before(async () => {
  fx = await makeServeFixture();
  big = await addUnified(fx.store, fx.dir, "direct-big", { public: true, spec: noise(16) });
  split = await addSplit(fx.store, fx.dir, "direct-split", { public: true, spec: noise(12) });
  server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
});
after(async () => {
  await server.close();
  fx.cleanup();
});

function open(path: string, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, {
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
      agent: false,
      headers,
    }, resolve);
    req.on("error", reject);
    req.end();
  });
}

/** Waits before reading (so the server's writes queue up), then reads the whole body. */
async function lateBody(res: IncomingMessage): Promise<Uint8Array> {
  res.pause();
  await new Promise((r) => setTimeout(r, 300));
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

const exportPath = (fp: string) => `/1.0/images/${fp}/export`;

test("sendDirect() sends a large unified export byte-exact to a reader that starts late", async () => {
  const file = fx.store.files(big.fingerprint).metadata;
  assert.ok(file.size > 12 << 20, `image too small: ${file.size}`);
  const res = await open(exportPath(big.fingerprint));
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["content-length"], String(file.size));
  const body = await lateBody(res);
  assert.equal(body.byteLength, file.size);
  assert.equal(await sha256Hex(body), big.fingerprint);
});

test("sendDirect() sends a Range across buffer boundaries as 206 with the exact bytes", async () => {
  const file = fx.store.files(big.fingerprint).metadata;
  const [start, end] = [1000, 1000 + 1_500_000];
  const res = await open(exportPath(big.fingerprint), { Range: `bytes=${start}-${end}` });
  assert.equal(res.statusCode, 206);
  assert.equal(res.headers["content-range"], `bytes ${start}-${end}/${file.size}`);
  const body = await lateBody(res);
  assert.deepEqual(body, new Uint8Array(readFileSync(file.path).subarray(start, end + 1)));
});

test("sendDirect() sends a split image as multipart with its exact Content-Length", async () => {
  const files = fx.store.files(split.fingerprint);
  const res = await open(exportPath(split.fingerprint));
  assert.equal(res.statusCode, 200);
  const body = await lateBody(res);
  assert.equal(res.headers["content-length"], String(body.byteLength));
  const form = await new Response(body as Uint8Array<ArrayBuffer>, {
    headers: { "Content-Type": String(res.headers["content-type"]) },
  }).formData();
  const meta = new Uint8Array(await (form.get("metadata") as File).arrayBuffer());
  const root = new Uint8Array(await (form.get("rootfs") as File).arrayBuffer());
  assert.deepEqual(meta, new Uint8Array(readFileSync(files.metadata.path)));
  assert.deepEqual(root, new Uint8Array(readFileSync(files.rootfs!.path)));
  assert.equal(await sha256Hex(meta, root), split.fingerprint);
});

/** How many of this process's descriptors point at `path` (the server runs in-process). */
function openCount(path: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed while listing
    }
  }).length;
}

test(
  "sendDirect() closes the image file when the client hangs up mid-download",
  { skip: process.platform !== "linux" && "needs /proc/self/fd" },
  async () => {
    const path = fx.store.files(big.fingerprint).metadata.path;
    assert.equal(openCount(path), 0);
    const res = await open(exportPath(big.fingerprint));
    await new Promise((resolve) => res.once("data", resolve));
    // (Deno's node:https reads the whole file ahead, so it may be closed already here.)
    res.destroy();
    // Bounded wait for the server to notice the hang-up; the assertion is on the count.
    for (let i = 0; i < 200 && openCount(path) > 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(openCount(path), 0);
    const again = await lateBody(await open(exportPath(big.fingerprint)));
    assert.equal(await sha256Hex(again), big.fingerprint);
  },
);
