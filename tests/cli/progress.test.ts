import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgress, formatBytes, progressLine } from "../../src/cli/progress.ts";

test("createProgress() draws nothing when disabled (not a TTY or --quiet)", () => {
  let out = "";
  const p = createProgress({ write: (s) => out += s, enabled: false, label: "X", total: 10 });
  p.update(5);
  p.done();
  assert.equal(out, "");
});

test("createProgress() redraws one line with \\r, throttled, and clears it when done", () => {
  let out = "";
  let t = 0;
  const p = createProgress({
    write: (s) => out += s,
    enabled: true,
    label: "Importing",
    total: 4096,
    now: () => t,
    interval: 100,
  });
  t = 1000;
  p.update(1024);
  t = 1050;
  p.update(2048); // within the interval: skipped
  t = 2000;
  p.update(4096);
  p.done();
  const frames = out.split("\r").filter((f) => f);
  assert.equal(frames.length, 3);
  assert.match(frames[0], /^Importing: 25% \(1\.00kB\/4\.00kB, 1\.00kB\/s, 3s left\)/);
  assert.match(frames[1], /^Importing: 100% \(4\.00kB\/4\.00kB/);
  assert.equal(frames[2], "\x1b[K");
  assert.ok(!out.includes("\n"));
});

test("progressLine() without a total shows bytes and rate only", () => {
  assert.equal(progressLine("Copying", 2048, 2000), "Copying: 2.00kB (1.00kB/s)");
});

test("formatBytes() uses 1024-based units like lxc", () => {
  assert.equal(formatBytes(1023), "1023B");
  assert.equal(formatBytes(1536), "1.50kB");
  assert.equal(formatBytes(5 * 1024 ** 2), "5.00MB");
});
