/** Running a .ts file in a child process with the same runtime as the test. */
import { spawn } from "node:child_process";

/** argv prefix that runs a TypeScript file under the current runtime. */
export function tsRunner(): string[] {
  return "Deno" in globalThis ? [process.execPath, "run", "-A", "--no-check"] : [process.execPath];
}

/** Runs a .ts file to completion; resolves with its exit code and output. */
export function runTs(
  file: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, ...pre] = tsRunner();
  const child = spawn(cmd, [...pre, file, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => stdout += d);
  child.stderr.on("data", (d) => stderr += d);
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}
