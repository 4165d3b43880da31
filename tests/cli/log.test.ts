import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger, logLevel } from "../../src/cli/log.ts";

test("logLevel() lets --verbose and --quiet win over IMAGO_LOG", () => {
  assert.equal(logLevel({}, {}), "info");
  assert.equal(logLevel({ IMAGO_LOG: "warn" }, {}), "warn");
  assert.equal(logLevel({ IMAGO_LOG: "DEBUG" }, {}), "debug");
  assert.equal(logLevel({ IMAGO_LOG: "chatty" }, {}), "info");
  assert.equal(logLevel({ IMAGO_LOG: "error" }, { verbose: true }), "debug");
  assert.equal(logLevel({ IMAGO_LOG: "debug" }, { quiet: true }), "error");
});

test("createLogger() writes lines at or above its level only", () => {
  let out = "";
  const log = createLogger((s) => out += s, "warn");
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.equal(out, "Warning: w\nError: e\n");
});
