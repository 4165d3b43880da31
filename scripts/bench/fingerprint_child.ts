/**
 * Runs imago's fingerprintFiles on the given files in a fresh process and prints the hash as
 * JSON; the fingerprint section starts it under Node 26, the runtime inside dist/imago.
 */
import process from "node:process";
import { fingerprintFiles } from "../../src/core/fingerprint.ts";

const t0 = performance.now();
const fingerprint = await fingerprintFiles(...process.argv.slice(2));
console.log(JSON.stringify({ fingerprint, seconds: (performance.now() - t0) / 1000 }));
