/**
 * The remotes' HTTP/1.1 transport: raw loopback servers that frame answers in unusual ways, and
 * the body feed's chunking and backpressure.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import { RemoteError } from "../../../src/core/errors.ts";
import { HttpClient } from "../../../src/plugins/remotes/http.ts";
import { bodyFeed, GROUP } from "../../../src/plugins/remotes/http_body.ts";
import { readAllBytes, seeded, startHttps, type TestServer } from "./tls_helpers.ts";

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const close of closers) await close();
});

/** A plain TCP server that answers each connection's request with `answer(socket)`. */
async function raw(answer: (socket: Socket) => void): Promise<string> {
  const server: Server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => answer(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function https(...args: Parameters<typeof startHttps>): Promise<TestServer> {
  const s = await startHttps(...args);
  closers.push(() => s.close());
  return s;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

test("HttpClient reads a chunked body the server sends in small pieces", async () => {
  const pieces = ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabc", "\r\n", "4"]
    .concat(["\r\ndefg\r\n0\r\n", "\r\n"]);
  const url = await raw((socket) => {
    let i = 0;
    const next = () => i < pieces.length ? socket.write(pieces[i++], () => setTimeout(next, 5)) : 0;
    next();
  });
  const res = await new HttpClient().getStream(`${url}/x`);
  assert.equal(res.status, 200);
  assert.equal(text(await readAllBytes(res.body)), "abcdefg");
});

test("HttpClient reads a body that ends with the connection", async () => {
  const url = await raw((socket) => socket.end("HTTP/1.1 200 OK\r\n\r\nuntil the end"));
  const res = await new HttpClient().getStream(`${url}/x`);
  assert.equal(text(await readAllBytes(res.body)), "until the end");
});

test("HttpClient names the URL of an answer that is not HTTP", async () => {
  const url = await raw((socket) => socket.end("SSH-2.0-OpenSSH_9.2\r\n\r\n"));
  await assert.rejects(new HttpClient().getJson(`${url}/x`), (err: Error) => {
    assert.ok(err instanceof RemoteError);
    assert.match(err.message, /^Cannot fetch ".*\/x": invalid HTTP answer: invalid status line/);
    return true;
  });
});

test("HttpClient reports a chunked body cut short, with the bytes it got", async () => {
  const url = await raw((socket) =>
    socket.end("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabc")
  );
  const res = await new HttpClient().getStream(`${url}/x`);
  await assert.rejects(readAllBytes(res.body), /the connection closed after 3 bytes/);
});

test("HttpClient refuses a request header that would add a line of its own", async () => {
  const url = await raw((socket) => socket.end("HTTP/1.1 204 No Content\r\n\r\n"));
  await assert.rejects(
    new HttpClient().getStream(`${url}/x`, { headers: { "X-Evil": "a\r\nHost: b" } }),
    /invalid request header "X-Evil"/,
  );
  const res = await new HttpClient().head(`${url}/x`, { headers: { "X-Fine": "a b" } });
  assert.equal(res.status, 204);
});

test("HttpClient hands a large body on intact, in chunks that never pass 256 KiB", async () => {
  const data = seeded(3 * GROUP + 12345, 7);
  const s = await https((_req, res) => {
    res.writeHead(200, { "content-length": String(data.byteLength) }).end(data);
  });
  const res = await new HttpClient({ certificate: s.cert }).getStream(`${s.url}/big`);
  const sizes: number[] = [];
  const hash = createHash("sha256");
  for await (const chunk of res.body) {
    sizes.push(chunk.byteLength);
    hash.update(chunk);
  }
  assert.equal(sizes.reduce((a, b) => a + b, 0), data.byteLength);
  assert.ok(sizes.every((n) => n <= GROUP), `chunk sizes ${sizes}`);
  assert.equal(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
});

test("bodyFeed() sizes chunks to the announced length and copies a small tail out", async () => {
  const feed = bodyFeed({
    url: "u",
    idleTimeoutMs: 60_000,
    expected: GROUP + 5000,
    resume() {},
    release() {},
  });
  feed.push(seeded(GROUP + 5000));
  feed.end();
  const chunks: Uint8Array[] = [];
  for await (const c of feed.stream) chunks.push(c);
  assert.deepEqual(chunks.map((c) => c.byteLength), [GROUP, 5000]);
  // The last chunk was allocated for the 5000 bytes left, not as a 256 KiB buffer.
  assert.equal(chunks[1].buffer.byteLength, 5000);

  const open = bodyFeed({ url: "u", idleTimeoutMs: 60_000, resume() {}, release() {} });
  open.push(seeded(100));
  open.end();
  const [tail] = await Array.fromAsync(open.stream);
  assert.equal(tail.byteLength, 100);
  assert.equal(tail.buffer.byteLength, 100);
});

test("bodyFeed() asks to stop reading once its queue is full, and to resume on the next read", async () => {
  let resumed = 0;
  let released = 0;
  const feed = bodyFeed({
    url: "u",
    idleTimeoutMs: 60_000,
    resume: () => resumed++,
    release: () => released++,
  });
  const reader = feed.stream.getReader();
  assert.equal(feed.push(seeded(GROUP)), true);
  assert.equal(feed.push(seeded(GROUP)), false);
  // Bytes pushed after the request to stop are still taken.
  assert.equal(feed.push(seeded(10)), false);
  assert.equal(resumed, 0);
  assert.equal((await reader.read()).value?.byteLength, GROUP);
  await new Promise((r) => setImmediate(r));
  assert.equal(resumed, 1);
  await reader.cancel();
  assert.equal(released, 1);
  assert.equal(feed.push(seeded(10)), false);
});

test("bodyFeed() hands on the bytes that came before a failure, then fails", async () => {
  let released = 0;
  const feed = bodyFeed({
    url: "u",
    idleTimeoutMs: 60_000,
    resume() {},
    release: () => released++,
  });
  feed.push(seeded(GROUP));
  feed.push(seeded(100));
  feed.fail(new RemoteError('Cannot download "u": the connection closed after 262244 bytes'));
  assert.equal(released, 1);
  const reader = feed.stream.getReader();
  assert.equal((await reader.read()).value?.byteLength, GROUP);
  assert.equal((await reader.read()).value?.byteLength, 100);
  await assert.rejects(reader.read(), /closed after 262244 bytes/);
});
