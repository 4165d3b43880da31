/**
 * LXD download secrets (`?secret=…`, lxd.ts) never show in error messages, whichever part of the
 * HTTP client quotes the URL: failed status, refused connection, a body cut short, an LXD error.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, test } from "node:test";
import {
  annotate,
  ImagoError,
  NotFoundError,
  redactSecrets,
  RemoteError,
} from "../../../src/core/errors.ts";
import { HttpClient } from "../../../src/plugins/remotes/http.ts";
import { unwrap } from "../../../src/plugins/remotes/lxd_api.ts";
import { readAllBytes } from "./tls_helpers.ts";

const SECRET = "s3cr3t-Value%2B1";
const PATH = `/1.0/images/abc/export?secret=${SECRET}`;

const servers: Server[] = [];
after(() => servers.forEach((s) => s.close()));

/** A loopback HTTP server; resolves with its base URL. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The error `p` rejects with, checked to hide the secret but keep the rest of the URL. */
async function failure(p: Promise<unknown>): Promise<Error> {
  const err = await p.then(() => assert.fail("expected a failure"), (e: Error) => e);
  assert.ok(err instanceof ImagoError, String(err));
  assert.ok(!err.message.includes(SECRET), err.message);
  assert.ok(!err.stack?.includes(SECRET), err.stack);
  assert.match(err.message, /\/1\.0\/images\/abc\/export\?secret=\*\*\*/);
  return err;
}

test("redactSecrets() masks every secret parameter and leaves the rest of the URL", () => {
  assert.equal(
    redactSecrets(`Cannot fetch "https://h/x?a=1&secret=abc&b=2#f" or "/y?SECRET=d"`),
    `Cannot fetch "https://h/x?a=1&secret=***&b=2#f" or "/y?SECRET=***"`,
  );
  assert.equal(redactSecrets("the secret=abc is no URL"), "the secret=abc is no URL");
});

test("HttpClient.download() errors show the URL with its secret masked", async () => {
  const base = await serve((req, res) => {
    if (req.url?.startsWith("/gone")) return void res.writeHead(404).end("nope");
    res.writeHead(200, { "content-length": "1000" });
    res.write("y".repeat(100), () => res.destroy());
  });
  const client = new HttpClient();
  const status = await failure(client.download(`${base}/gone${PATH}`));
  assert.equal(
    status.message,
    `Failed to fetch "${base}/gone/1.0/images/abc/export?secret=***": 404`,
  );
  const res = await client.download(`${base}${PATH}`, { maxResumes: 0 });
  await failure(readAllBytes(res.body));
});

test("HttpClient errors for a refused connection mask the secret", async () => {
  const base = await serve(() => {});
  servers.pop()!.close();
  const err = await failure(new HttpClient().getStream(`${base}${PATH}`));
  assert.ok(err instanceof RemoteError);
  assert.match(err.message, /connection refused/);
});

test("LXD error answers and annotated errors mask the secret", () => {
  const url = `https://h:8443${PATH}`;
  assert.throws(
    () => unwrap({ type: "error", error: "not found", error_code: 404 }, 404, url),
    (e) =>
      e instanceof NotFoundError && !e.message.includes(SECRET) &&
      e.message.startsWith(`not found (https://h:8443/1.0/images/abc/export?secret=***`),
  );
  const err = annotate(new RemoteError("timed out"), `Cannot pull "${url}"`);
  assert.equal(
    err.message,
    `Cannot pull "https://h:8443/1.0/images/abc/export?secret=***": timed out`,
  );
});
