import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { join } from "node:path";
import { parseListen, startServer } from "../../src/serve/server.ts";
import { makeSelfSigned } from "../../src/serve/tls.ts";
import { TrustList } from "../../src/serve/trust.ts";
import { addUnified, makeServeFixture, type ServeFixture } from "./fixtures.ts";
import { sha256Hex } from "./request.ts";

let fx: ServeFixture;
before(async () => {
  fx = await makeServeFixture();
});
after(() => fx.cleanup());

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
  cert: PeerCertificate;
  protocol: string | null;
}

function get(
  url: string,
  opts: {
    ca?: string;
    cert?: string;
    key?: string;
    maxVersion?: "TLSv1.2";
    headers?: object;
    servername?: string;
    insecure?: boolean;
  } = {},
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      minVersion: opts.maxVersion ?? "TLSv1.3",
      maxVersion: opts.maxVersion ?? "TLSv1.3",
      servername: opts.servername ?? "localhost",
      rejectUnauthorized: !opts.insecure,
      headers: opts.headers as Record<string, string>,
      agent: false,
    }, (res) => {
      const chunks: Uint8Array[] = [];
      const socket = res.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const protocol = socket.getProtocol();
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: new Uint8Array(Buffer.concat(chunks)),
          cert,
          protocol,
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

test("parseListen() reads LXD-style listen addresses", () => {
  assert.deepEqual(parseListen("[::]:8443"), { host: "::", port: 8443 });
  assert.deepEqual(parseListen("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseListen(":9443"), { host: "::", port: 9443 });
  assert.deepEqual(parseListen("9443"), { host: "::", port: 9443 });
  assert.deepEqual(parseListen("[::1]:1"), { host: "::1", port: 1 });
  for (const bad of ["", "host", "1.2.3.4:99999", "[::1:80", "a:b:c"]) {
    assert.throws(() => parseListen(bad), /Invalid listen address/, bad);
  }
});

test("startServer() serves the API over TLS 1.3 with a certificate carrying SANs", async () => {
  const lines: string[] = [];
  const server = await startServer(fx.store, { listen: "127.0.0.1:0", log: (l) => lines.push(l) });
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = (await import("node:fs")).readFileSync(join(fx.store.dir, "server.crt"), "utf8");
    assert.equal(statSync(join(fx.store.dir, "server.key")).mode & 0o777, 0o600);
    const r = await get(`${server.url}/1.0`, { ca });
    assert.equal(r.status, 200);
    assert.equal(r.protocol, "TLSv1.3");
    assert.equal(JSON.parse(new TextDecoder().decode(r.body)).metadata.auth, "untrusted");
    const sans = r.cert.subjectaltname ?? "";
    assert.match(sans, /(^|, )DNS:localhost(,|$)/);
    assert.match(sans, /(^|, )IP Address:127\.0\.0\.1(,|$)/);
    assert.match(sans, /(^|, )IP Address:(0:0:0:0:0:0:0:1|::1)(,|$)/); // Deno writes "::1"
    assert.equal(
      r.cert.fingerprint256.replaceAll(":", "").toLowerCase(),
      server.fingerprint,
    );
    // The same certificate verifies for the IP address too (what LXD's daemon checks).
    const byIp = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/`, { ca, minVersion: "TLSv1.3", agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(byIp, 200);
    await assert.rejects(get(`${server.url}/1.0`, { ca, maxVersion: "TLSv1.2" }));
    assert.ok(lines.some((l) => / "GET \/1\.0" 200 \d+ \d+ms /.test(l)), lines.join("\n"));
  } finally {
    await server.close();
  }
  // A second start reuses the stored certificate.
  const again = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  try {
    assert.equal(again.certificateCreated, false);
    assert.equal(again.fingerprint, server.fingerprint);
  } finally {
    await again.close();
  }
});

test("startServer() trusts clients whose certificate is in the trust list", async () => {
  const client = makeSelfSigned(["client"]);
  new TrustList(fx.store).add(client.cert, "test client");
  const server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  try {
    const url = `${server.url}/1.0/images/aliases/priv-split`;
    const trusted = await get(url, { cert: client.cert, key: client.key, insecure: true });
    assert.equal(trusted.status, 200);
    const stranger = makeSelfSigned(["stranger"]);
    const other = await get(url, { cert: stranger.cert, key: stranger.key, insecure: true });
    assert.equal(other.status, 404);
    assert.equal((await get(url, { insecure: true })).status, 404);
  } finally {
    await server.close();
  }
});

test("startServer() keeps serving downloads while hostile requests come in", async () => {
  const server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  const ca = (await import("node:fs")).readFileSync(join(fx.store.dir, "server.crt"), "utf8");
  try {
    const fp = fx.pubUnified.fingerprint;
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < 8; i++) {
      jobs.push(
        get(`${server.url}/1.0/images/${fp}/export`, { ca }).then(async (r) => {
          assert.equal(r.status, 200);
          assert.equal(await sha256Hex(r.body), fp);
        }),
      );
      jobs.push(
        get(`${server.url}/1.0/images/aliases/..%2F..%2Fimago.db`, { ca }).then((r) => {
          assert.equal(r.status, 404);
        }),
      );
      jobs.push(
        get(`${server.url}/1.0/images/${fp}/export`, { ca, headers: { Range: "bytes=z" } }).then(
          (r) => assert.equal(r.status, 416),
        ),
      );
      jobs.push(
        get(`${server.url}/${"a".repeat(9000)}`, { ca }).then((r) => {
          assert.equal(r.status, 414);
        }),
      );
    }
    await Promise.all(jobs);
  } finally {
    await server.close();
  }
});

test("startServer() uses --tls-cert/--tls-key when given and --http without TLS", async () => {
  const own = makeSelfSigned(["own.example", "127.0.0.1"]);
  const certPath = join(fx.dir, "own.crt");
  const keyPath = join(fx.dir, "own.key");
  writeFileSync(certPath, own.cert);
  writeFileSync(keyPath, own.key);
  const server = await startServer(fx.store, {
    listen: "127.0.0.1:0",
    tlsCert: certPath,
    tlsKey: keyPath,
    log: () => {},
  });
  try {
    const r = await get(`${server.url}/1.0`, { ca: own.cert, servername: "own.example" });
    assert.ok(r.cert.subjectaltname?.includes("DNS:own.example"));
  } finally {
    await server.close();
  }
  await assert.rejects(
    startServer(fx.store, { listen: "127.0.0.1:0", tlsCert: certPath }),
    /give both --tls-cert and --tls-key/,
  );
  const plain = await startServer(fx.store, { listen: "127.0.0.1:0", http: true, log: () => {} });
  try {
    assert.match(plain.url, /^http:\/\//);
    const res = await fetch(`${plain.url}/static/pub-unified`, {
      method: "HEAD",
      headers: { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "images.example" },
    });
    assert.equal(
      res.headers.get("lxd-image-url"),
      `https://images.example/1.0/images/${fx.pubUnified.fingerprint}/export`,
    );
  } finally {
    await plain.close();
  }
});

test("close() lets a download in flight finish, then refuses new connections", async () => {
  const big = await addUnified(fx.store, fx.dir, "big", {
    public: true,
    spec: { files: { "big.bin": randomBytes(6 << 20).toString("base64") } },
  });
  assert.ok(big.size > 4 << 20);
  const server = await startServer(fx.store, { listen: "127.0.0.1:0", log: () => {} });
  const body = await new Promise<{ res: import("node:http").IncomingMessage }>(
    (resolve, reject) => {
      const req = request(`${server.url}/1.0/images/${big.fingerprint}/export`, {
        rejectUnauthorized: false,
        minVersion: "TLSv1.3",
        agent: false,
      }, (res) => resolve({ res }));
      req.on("error", reject);
      req.end();
    },
  );
  // Headers are in, the body is not read yet: now shut down.
  let closed = false;
  const closing = server.close(60_000).then(() => closed = true);
  const chunks: Buffer[] = [];
  for await (const chunk of body.res) chunks.push(chunk as Buffer);
  assert.equal(await sha256Hex(new Uint8Array(Buffer.concat(chunks))), big.fingerprint);
  await closing;
  assert.ok(closed);
  await assert.rejects(get(`${server.url}/1.0`, { insecure: true }), /ECONNREFUSED/);
});
