import { test } from "node:test";
import assert from "node:assert/strict";
import { InvalidInputError } from "../../src/core/errors.ts";
import { safeEntryName, scanTar } from "../../src/core/tar.ts";
import type { TarEntry } from "../../src/core/tar.ts";
import { fileHeader, gnuTar, packTar, streamOf, text } from "./tar_fixtures.ts";

type Seen = Omit<TarEntry, "body"> & { data?: string };

/** Scans `bytes`, reading every file body. */
async function scanAll(bytes: Uint8Array, chunk?: number): Promise<Seen[]> {
  const seen: Seen[] = [];
  await scanTar(streamOf(bytes, chunk), async (e) => {
    const { body, ...rest } = e;
    seen.push(e.type === "file" ? { ...rest, data: await text(body()) } : rest);
  });
  return seen;
}

/** The InvalidInputError scanning `bytes` raises. */
async function scanError(bytes: Uint8Array): Promise<InvalidInputError> {
  try {
    await scanTar(streamOf(bytes), () => {});
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, String(err));
    return err;
  }
  assert.fail("scanTar() accepted the archive");
}

test("scanTar() reads a GNU tar with normalised names and bodies", async () => {
  const tar = gnuTar({ "metadata.yaml": "architecture: x86_64\n", "rootfs/etc/os": "alpine\n" });
  const seen = await scanAll(tar, 777);
  const byName = new Map(seen.map((e) => [e.name, e]));
  assert.deepEqual([...byName.keys()].sort(), [
    ".",
    "metadata.yaml",
    "rootfs",
    "rootfs/etc",
    "rootfs/etc/os",
  ]);
  assert.equal(byName.get(".")!.type, "directory");
  assert.equal(byName.get("rootfs/etc")!.type, "directory");
  const os = byName.get("rootfs/etc/os")!;
  assert.equal(os.type, "file");
  assert.equal(os.size, 7);
  assert.equal(os.data, "alpine\n");
  assert.equal(byName.get("metadata.yaml")!.data, "architecture: x86_64\n");
});

test("scanTar() skips bodies the handler leaves unread, whole or in part", async () => {
  const big = "x".repeat(300_000);
  const tar = await packTar([
    { name: "a", body: big },
    { name: "b", body: big },
    { name: "c", body: "last" },
  ]);
  const seen: string[] = [];
  await scanTar(streamOf(tar, 65536), async (e) => {
    if (e.name === "b") {
      const reader = e.body().getReader();
      const first = await reader.read();
      assert.ok(!first.done && first.value.byteLength > 0);
      reader.releaseLock();
    }
    seen.push(e.name === "c" ? await text(e.body()) : e.name);
  });
  assert.deepEqual(seen, ["a", "b", "last"]);
});

test("scanTar() reads the input no faster than the handler consumes it", async () => {
  const size = 32 << 20;
  const zeros = new Uint8Array(65536);
  let pulled = 0;
  let consumed = 0;
  let lead = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(c) {
      if (pulled === 0) c.enqueue(fileHeader("rootfs.img", size));
      else if (pulled < 512 + size) c.enqueue(zeros);
      else return c.close(); // no end-of-archive blocks: accepted, as LXD does
      pulled += pulled === 0 ? 512 : zeros.byteLength;
    },
  });
  await scanTar(input, async (e) => {
    for await (const chunk of e.body()) {
      consumed += chunk.byteLength;
      lead = Math.max(lead, pulled - consumed);
      await new Promise((resolve) => setImmediate(resolve)); // a slow consumer
    }
  });
  assert.equal(consumed, size);
  assert.ok(lead < 2 << 20, `read ${lead} bytes ahead of the handler`);
});

test("scanTar() reports entry metadata: links, modes and owners", async () => {
  const tar = await packTar([
    { name: "./rootfs/bin/sh", mode: 0o755, uid: 0, gid: 0, body: "#!" },
    { name: "./rootfs/bin/ash", type: "link", linkname: "./rootfs/bin/sh" },
    { name: "./rootfs/etc/localtime", type: "symlink", linkname: "/usr/share/zoneinfo/UTC" },
    { name: "./rootfs/home/u/", type: "directory", uid: 1000, gid: 1000, mode: 0o700 },
  ]);
  const seen = await scanAll(tar);
  assert.deepEqual(seen.map((e) => [e.name, e.type, e.linkname]), [
    ["rootfs/bin/sh", "file", undefined],
    ["rootfs/bin/ash", "link", "rootfs/bin/sh"],
    ["rootfs/etc/localtime", "symlink", "/usr/share/zoneinfo/UTC"],
    ["rootfs/home/u", "directory", undefined],
  ]);
  assert.equal(seen[0].mode, 0o755);
  assert.deepEqual([seen[3].uid, seen[3].gid, seen[3].mode], [1000, 1000, 0o700]);
});

test("scanTar() rejects an entry named ../x", async () => {
  const err = await scanError(await packTar([{ name: "ok" }, { name: "../x", body: "evil" }]));
  assert.match(err.message, /unsafe tar entry "\.\.\/x"/);
});

test("scanTar() rejects an absolute entry /etc/passwd", async () => {
  const err = await scanError(await packTar([{ name: "/etc/passwd", body: "root::0:0" }]));
  assert.match(err.message, /unsafe tar entry "\/etc\/passwd"/);
});

test("scanTar() rejects rootfs/../../x", async () => {
  const err = await scanError(await packTar([{ name: "rootfs/../../x" }]));
  assert.match(err.message, /unsafe tar entry "rootfs\/\.\.\/\.\.\/x"/);
});

test("scanTar() rejects a long (pax) name with a .. component", async () => {
  const name = "rootfs/" + "d/".repeat(80) + "../".repeat(90) + "x";
  const err = await scanError(await packTar([{ name }]));
  assert.match(err.message, /unsafe tar entry/);
});

test("scanTar() rejects a hard link to ../../etc or an absolute target", async () => {
  const up = await scanError(
    await packTar([{ name: "rootfs/etc2", type: "link", linkname: "../../etc" }]),
  );
  assert.match(up.message, /unsafe hard link "rootfs\/etc2" to "\.\.\/\.\.\/etc"/);
  const abs = await scanError(
    await packTar([{ name: "rootfs/shadow", type: "link", linkname: "/etc/shadow" }]),
  );
  assert.match(abs.message, /unsafe hard link "rootfs\/shadow" to "\/etc\/shadow"/);
});

test("scanTar() rejects a tar truncated inside an entry's data", async () => {
  const tar = await packTar([{ name: "metadata.yaml", body: "a" }, {
    name: "rootfs.img",
    body: new Uint8Array(10_000),
  }]);
  const err = await scanError(tar.subarray(0, 1024 + 512 + 4096));
  assert.match(err.message, /truncated in entry "rootfs\.img"/);
});

test("scanTar() reports truncation while the handler reads the body", async () => {
  const tar = await packTar([{ name: "a", body: "a" }, {
    name: "rootfs.img",
    body: new Uint8Array(10_000),
  }]);
  await assert.rejects(
    scanAll(tar.subarray(0, 1024 + 512 + 4096)),
    (err) =>
      err instanceof InvalidInputError && /truncated in entry "rootfs\.img"/.test(err.message),
  );
});

test("scanTar() rejects a tar truncated inside a header", async () => {
  const tar = await packTar([{ name: "a", body: "x" }, { name: "b", body: "y" }]);
  const err = await scanError(tar.subarray(0, 1024 + 100));
  assert.match(err.message, /truncated/);
});

test("scanTar() rejects bytes that are not a tar", async () => {
  const junk = new TextEncoder().encode("hello world\n".repeat(100));
  const err = await scanError(junk);
  assert.match(err.message, /^Cannot read tar archive: not a tar archive, or a corrupt one/);
  const short = await scanError(new TextEncoder().encode("too short for a header"));
  assert.match(short.message, /not a tar archive, or one truncated in its first header/);
});

test("scanTar() rejects an empty stream", async () => {
  const err = await scanError(new Uint8Array(0));
  assert.equal(err.message, "Cannot read tar archive: the file is empty");
});

test("scanTar() starts messages with the given action", async () => {
  const tar = await packTar([{ name: "../x" }]);
  await assert.rejects(
    scanTar(streamOf(tar), () => {}, { action: 'Cannot import "x.tar"' }),
    /^InvalidInputError: Cannot import "x\.tar": unsafe tar entry "\.\.\/x"/,
  );
});

test("scanTar() passes a handler's error through and cancels the input", async () => {
  const tar = await packTar([{ name: "a", body: "x".repeat(100_000) }, { name: "b" }]);
  let cancelled: unknown;
  let off = 0;
  const input = new ReadableStream<Uint8Array>({
    pull(c) {
      if (off >= tar.byteLength) return c.close();
      c.enqueue(tar.slice(off, off += 4096));
    },
    cancel(reason) {
      cancelled = reason;
    },
  });
  const boom = new Error("handler failed");
  await assert.rejects(scanTar(input, () => Promise.reject(boom)), (err) => err === boom);
  assert.equal(cancelled, boom);
  assert.ok(off < tar.byteLength, "stopped reading before the end");
});

test("safeEntryName() normalises names and refuses escapes", () => {
  assert.equal(safeEntryName("./metadata.yaml"), "metadata.yaml");
  assert.equal(safeEntryName("././rootfs/"), "rootfs");
  assert.equal(safeEntryName(".//rootfs/bin"), "rootfs/bin");
  assert.equal(safeEntryName("./"), ".");
  assert.equal(safeEntryName("rootfs/a..b"), "rootfs/a..b");
  assert.equal(safeEntryName("rootfs/./x"), "rootfs/./x");
  assert.equal(safeEntryName("../x"), undefined);
  assert.equal(safeEntryName("/etc/passwd"), undefined);
  assert.equal(safeEntryName("a/../../b"), undefined);
  assert.equal(safeEntryName("a/.."), undefined);
  assert.equal(safeEntryName(".."), undefined);
});
