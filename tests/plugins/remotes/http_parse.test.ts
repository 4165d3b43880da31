/** The HTTP/1.1 response parser of the remotes' client, fed byte strings split every way. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_HEAD, ParseError, ResponseParser } from "../../../src/plugins/remotes/http_parse.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Seen {
  status?: number;
  headers?: Headers;
  length?: number;
  body: string;
  ends: number;
}

function parser(method = "GET", more = () => true): { p: ResponseParser; seen: Seen } {
  const seen: Seen = { body: "", ends: 0 };
  const p = new ResponseParser(method, {
    head(status, headers, length) {
      Object.assign(seen, { status, headers, length });
    },
    body(bytes) {
      seen.body += dec.decode(bytes);
      return more();
    },
    end() {
      seen.ends++;
    },
  });
  return { p, seen };
}

/** Feeds `text` in pieces cut at `cuts`. */
function feed(p: ResponseParser, text: string, cuts: number[]): void {
  const bytes = enc.encode(text);
  let from = 0;
  for (const at of [...cuts, bytes.byteLength]) {
    p.push(bytes.subarray(from, at));
    from = at;
  }
}

const CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n" +
  "5;ext=1\r\nhello\r\n1A\r\n, world of chunked bodies!\r\n0\r\nTrailer: x\r\n\r\nJUNK";

test("ResponseParser reads a chunked body with extensions and trailers, however reads split it", () => {
  for (let cut = 0; cut <= CHUNKED.length; cut++) {
    for (const cuts of [[cut], [Math.floor(cut / 2), cut]]) {
      const { p, seen } = parser();
      feed(p, CHUNKED, cuts);
      assert.equal(seen.status, 200, `cut at ${cuts}`);
      assert.equal(seen.headers?.get("x-a"), "1, 2");
      assert.equal(seen.length, undefined);
      assert.equal(seen.body, "hello, world of chunked bodies!", `cut at ${cuts}`);
      assert.equal(seen.ends, 1);
      assert.equal(p.phase, "done");
    }
  }
  const { p, seen } = parser();
  feed(p, CHUNKED, [...Array(CHUNKED.length).keys()].slice(1));
  assert.equal(seen.body, "hello, world of chunked bodies!");
});

test("ResponseParser skips interim answers and stops at the Content-Length", () => {
  const { p, seen } = parser();
  feed(p, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhelloX", [
    30,
  ]);
  assert.deepEqual([seen.status, seen.length, seen.body, seen.ends], [201, 5, "hello", 1]);
  assert.equal(p.eof(), true);
});

test("ResponseParser reads to the end of the connection without a length, none for HEAD or 204", () => {
  const open = parser();
  feed(open.p, "HTTP/1.0 200 OK\r\n\r\nsome bytes", [22]);
  assert.equal(open.seen.ends, 0);
  assert.equal(open.p.eof(), true);
  assert.deepEqual([open.seen.body, open.seen.ends], ["some bytes", 1]);

  const head = parser("HEAD");
  feed(head.p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", []);
  assert.deepEqual([head.seen.body, head.seen.ends, head.p.phase], ["", 1, "done"]);
  const empty = parser();
  feed(empty.p, "HTTP/1.1 204 No Content\r\n\r\n", []);
  assert.deepEqual([empty.seen.ends, empty.p.phase], [1, "done"]);
});

test("ResponseParser.eof() reports a body cut short of its length or its last chunk", () => {
  const short = parser();
  feed(short.p, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", []);
  assert.equal(short.p.eof(), false);
  assert.equal(short.seen.ends, 0);
  const chunked = parser();
  feed(chunked.p, CHUNKED.slice(0, 90), []);
  assert.equal(chunked.p.eof(), false);
  const headless = parser();
  feed(headless.p, "HTTP/1.1 200 OK\r\n", []);
  assert.equal(headless.p.eof(), false);
});

test("ResponseParser.push() passes on the consumer's request to stop reading", () => {
  const { p } = parser("GET", () => false);
  const head = enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n");
  assert.equal(p.push(head), true);
  assert.equal(p.push(enc.encode("abc")), false);
});

test("ResponseParser refuses malformed answers, saying what was wrong", () => {
  const cases: [string, RegExp][] = [
    ["HTTP/2 200\r\n\r\n", /invalid status line "HTTP\/2 200"/],
    ["SSH-2.0-OpenSSH\r\n\r\n", /invalid status line/],
    ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", /invalid header line "no colon here"/],
    ["HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", /invalid header line/],
    ["HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", /invalid Content-Length "5, 6"/],
    ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", /invalid Content-Length/],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", /invalid chunk size "zz"/],
    [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY\r\n",
      /no line break after a chunk/,
    ],
    [
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${"1".repeat(5000)}`,
      /a chunk line is too long/,
    ],
    [`HTTP/1.1 200 OK\r\nX: ${"y".repeat(MAX_HEAD)}`, /headers are larger than 65536 bytes/],
  ];
  for (const [text, message] of cases) {
    const { p } = parser();
    assert.throws(() => feed(p, text, []), (err: Error) => {
      assert.ok(err instanceof ParseError, text.slice(0, 40));
      assert.match(err.message, message);
      return true;
    });
  }
  // The same content length twice is one length.
  const twice = parser();
  feed(twice.p, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", []);
  assert.deepEqual([twice.seen.body, twice.seen.ends], ["ok", 1]);
});
