/** The remotes' HTTP client against loopback HTTPS servers, friendly and hostile. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, test } from "node:test";
import { RemoteError } from "../../../src/core/errors.ts";
import {
  certificateFingerprint,
  grabCertificate,
  HttpClient,
} from "../../../src/plugins/remotes/http.ts";
import { makeSelfSigned } from "../../../src/serve/tls.ts";
import { readAllBytes, seeded, startHttps, type TestServer } from "./tls_helpers.ts";

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(...args: Parameters<typeof startHttps>): Promise<TestServer> {
  const s = await startHttps(...args);
  servers.push(s);
  return s;
}

const json = (body: unknown) => (_req: unknown, res: import("node:http").ServerResponse) => {
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
};

test("HttpClient.getJson() trusts a pinned certificate and checks it against its first DNS name", async () => {
  // The URL says 127.0.0.1, the certificate only some.other.name: lxc's relaxed check passes.
  const s = await serve(json({ ok: 1 }), { names: ["some.other.name"] });
  const client = new HttpClient({ certificate: s.cert });
  assert.deepEqual(await client.getJson(`${s.url}/x`), { ok: 1 });
});

test("HttpClient refuses a self-signed server without a pin, and with the wrong pin", async () => {
  const s = await serve(json({ ok: 1 }));
  await assert.rejects(new HttpClient().getJson(`${s.url}/x`), (err: Error) => {
    assert.ok(err instanceof RemoteError);
    assert.match(err.message, new RegExp(`Cannot fetch "${s.url}/x": .*certificate`, "i"));
    return true;
  });
  const other = makeSelfSigned(["localhost", "127.0.0.1"]).cert;
  await assert.rejects(
    new HttpClient({ certificate: other }).getJson(`${s.url}/x`),
    /certificate|pinned/i,
  );
});

test("HttpClient refuses a TLS 1.2-only server unless LXD_INSECURE_TLS is set", async () => {
  const s = await serve(json({ ok: 1 }), { tls: { maxVersion: "TLSv1.2" } });
  await assert.rejects(
    new HttpClient({ certificate: s.cert, env: {} }).getJson(`${s.url}/x`),
    /TLS 1\.3/,
  );
  const insecure = new HttpClient({ certificate: s.cert, env: { LXD_INSECURE_TLS: "1" } });
  assert.deepEqual(await insecure.getJson(`${s.url}/x`), { ok: 1 });
});

test("HttpClient sends the client certificate when configured", async () => {
  const s = await serve(json({}));
  const id = makeSelfSigned(["client"]);
  await new HttpClient({ certificate: s.cert, clientCert: id.cert, clientKey: id.key })
    .getJson(`${s.url}/x`);
  assert.equal(s.requests.at(-1)?.clientCert, certificateFingerprint(id.cert));
});

test("HttpClient.request() follows redirects, stops a loop, and never goes from https to http", async () => {
  const s = await serve((req, res) => {
    if (req.url === "/a") res.writeHead(302, { location: "/b" }).end();
    else if (req.url === "/b") res.writeHead(200).end("here");
    else if (req.url === "/loop") res.writeHead(301, { location: "/loop" }).end();
    else res.writeHead(307, { location: "http://127.0.0.1:1/plain" }).end();
  });
  const client = new HttpClient({ certificate: s.cert, maxRedirects: 5 });
  const res = await client.getStream(`${s.url}/a`);
  assert.equal(res.status, 200);
  assert.equal(res.url.pathname, "/b");
  assert.equal(new TextDecoder().decode(await readAllBytes(res.body)), "here");
  await assert.rejects(client.getStream(`${s.url}/loop`), /too many redirects/);
  assert.equal(s.requests.filter((r) => r.url === "/loop").length, 6);
  await assert.rejects(client.getStream(`${s.url}/down`), /from https to "http:/);
});

test("HttpClient.getJson() refuses JSON over the limit, announced or streamed", async () => {
  const big = JSON.stringify({ pad: "x".repeat(5000) });
  const s = await serve((req, res) => {
    if (req.url === "/length") res.writeHead(200, { "content-length": String(big.length) });
    else res.writeHead(200); // chunked, no length
    res.end(big);
  });
  const client = new HttpClient({ certificate: s.cert });
  for (const path of ["/length", "/chunked"]) {
    await assert.rejects(
      client.getJson(`${s.url}${path}`, { maxBytes: 1000 }),
      /larger than the limit of 1000 bytes/,
    );
  }
  assert.equal((await client.getJson<{ pad: string }>(`${s.url}/length`)).pad.length, 5000);
});

test("HttpClient.getJson() names the URL and status of a failed or non-JSON answer", async () => {
  const s = await serve((req, res) => {
    if (req.url === "/missing") res.writeHead(404).end("nope");
    else res.writeHead(200).end("<html>");
  });
  const client = new HttpClient({ certificate: s.cert });
  await assert.rejects(client.getJson(`${s.url}/missing`), /Failed to fetch ".*\/missing": 404/);
  await assert.rejects(client.getJson(`${s.url}/html`), /not JSON/);
});

test("HttpClient gives up on a server that sends no headers, after the bounded wait", async () => {
  const s = await serve(() => {/* never answers */});
  const client = new HttpClient({ certificate: s.cert, headersTimeoutMs: 200 });
  await assert.rejects(client.getJson(`${s.url}/stall`), (err: Error) => {
    assert.ok(err instanceof RemoteError);
    assert.equal(err.status, 504);
    assert.match(err.message, /no answer within 0\.2 s/);
    return true;
  });
});

test("HttpClient fails a body that stalls mid-way, after the idle timeout", async () => {
  const s = await serve((_req, res) => {
    res.writeHead(200, { "content-length": "100" });
    res.write("x".repeat(10)); // then nothing
  });
  const client = new HttpClient({ certificate: s.cert, idleTimeoutMs: 200 });
  const res = await client.getStream(`${s.url}/slow`);
  await assert.rejects(readAllBytes(res.body), /sent nothing for 0\.2 s after 10 bytes/);
});

test("HttpClient reports a body cut short of its Content-Length", async () => {
  const s = await serve((_req, res) => {
    res.writeHead(200, { "content-length": "1000" });
    res.write("y".repeat(500), () => res.destroy());
  });
  const res = await new HttpClient({ certificate: s.cert }).getStream(`${s.url}/cut`);
  await assert.rejects(readAllBytes(res.body), /closed after 500 of 1000 bytes/);
});

/** A file server that breaks the first response after `cut` bytes; ranges with If-Range. */
function flaky(data: Uint8Array, cut: number, etag: () => string) {
  let broken = false;
  return (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const headers = { "accept-ranges": "bytes", etag: etag() };
    if (range && req.headers["if-range"] === etag()) {
      const start = Number(range[1]);
      res.writeHead(206, {
        ...headers,
        "content-length": String(data.byteLength - start),
        "content-range": `bytes ${start}-${data.byteLength - 1}/${data.byteLength}`,
      }).end(data.subarray(start));
      return;
    }
    res.writeHead(200, { ...headers, "content-length": String(data.byteLength) });
    if (broken) return void res.end(data);
    broken = true;
    res.write(data.subarray(0, cut), () => setTimeout(() => res.destroy(), 20));
  };
}

test("HttpClient.download() resumes a broken body with Range and If-Range, seamlessly", async () => {
  const data = seeded(300_000, 7);
  const s = await serve(flaky(data, 120_000, () => '"v1"'));
  const offsets: number[] = [];
  const res = await new HttpClient({ certificate: s.cert }).download(`${s.url}/file`, {
    onResume: (o) => offsets.push(o),
  });
  const got = await readAllBytes(res.body);
  assert.equal(
    createHash("sha256").update(got).digest("hex"),
    createHash("sha256").update(data).digest("hex"),
  );
  assert.equal(offsets.length, 1);
  assert.ok(offsets[0] > 0 && offsets[0] <= 120_000);
  const resumed = s.requests.at(-1)!;
  assert.equal(resumed.headers.range, `bytes=${offsets[0]}-`);
  assert.equal(resumed.headers["if-range"], '"v1"');
});

test("HttpClient.download() does not stitch a file that changed on the server", async () => {
  let version = 1;
  const data = seeded(200_000, 3);
  const s = await serve(flaky(data, 50_000, () => `"v${version++}"`));
  const res = await new HttpClient({ certificate: s.cert }).download(`${s.url}/file`);
  await assert.rejects(readAllBytes(res.body), /Cannot resume .* answered 200 \(the file changed/);
});

test("grabCertificate() returns the leaf certificate and its sha256 fingerprint", async () => {
  const s = await serve(json({}));
  const got = await grabCertificate(new URL(s.url));
  assert.equal(got.fingerprint, certificateFingerprint(s.cert));
  assert.equal(certificateFingerprint(got.pem), got.fingerprint);
});
