/** The imago program entry: runs the command line and sets the exit code (no top-level await). */
import process from "node:process";
import { run } from "./run.ts";

run(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
