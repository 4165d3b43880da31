/**
 * The system programs that write a root filesystem: GNU tar (fed through the tar gate on its
 * stdin) and unsquashfs. They alone restore everything a rootfs holds: numeric owners, modes,
 * device nodes, symlinks, hard links, xattrs and ACLs. Failures become one ImagoError naming the
 * program's first complaint; a missing program names the Debian package to install.
 */
import { spawn } from "node:child_process";
import { ImagoError } from "./errors.ts";

/**
 * tar flags for extracting `file` ("-" for stdin) into `dir`: numeric owners, permissions,
 * xattrs and ACLs (only user.* xattrs without root, who cannot set the others).
 */
export function tarArgs(file: string, dir: string, root: boolean): string[] {
  return [
    "--extract",
    `--file=${file}`,
    "--numeric-owner",
    "--preserve-permissions",
    root ? "--same-owner" : "--no-same-owner",
    "--xattrs",
    root ? "--xattrs-include=*" : "--xattrs-include=user.*",
    "--acls",
    "--directory",
    dir,
  ];
}

/** Extracts the tar stream `input` into `dir` with GNU tar; rejects with the first error. */
export function extractTar(
  input: ReadableStream<Uint8Array>,
  dir: string,
  root: boolean,
  action: string,
  signal?: AbortSignal,
): Promise<void> {
  return runProgram("tar", tarArgs("-", dir, root), input, action, "tar", signal);
}

/** Extracts the (checked, uncompressed) tar file `file` into `dir`; tar reads it itself. */
export function extractTarFile(
  file: string,
  dir: string,
  root: boolean,
  action: string,
  signal?: AbortSignal,
) {
  return runProgram("tar", tarArgs(file, dir, root), undefined, action, "tar", signal);
}

/**
 * Extracts a SquashFS file into `dest` (which must not exist) with unsquashfs, as LXD does.
 * unsquashfs 4.5.1 and later refuse names with "/" or ".." and symlinks followed by entries.
 */
export function extractSquashfs(
  file: string,
  dest: string,
  action: string,
  signal?: AbortSignal,
): Promise<void> {
  return runProgram(
    "unsquashfs",
    ["-n", "-f", "-d", dest, file],
    undefined,
    action,
    "squashfs-tools",
    signal,
  );
}

/** First useful stderr line of a program, without its "name: " prefix. */
function complaint(program: string, stderr: string, code: number | null, signal: string | null) {
  const line = stderr.split("\n").map((l) => l.replace(new RegExp(`^${program}: `), "").trim())
    .find((l) => l && !l.startsWith("Exiting with failure status"));
  return line ?? (signal ? `killed by ${signal}` : `exit status ${code}`);
}

/**
 * Runs `program`, writing `input` (if any) to its stdin with backpressure. An error of the
 * input (a refused tar entry, corrupt compressed data) wins over the program's complaint about
 * the stream it then saw end early. Aborting `signal` kills the program and rejects with the
 * signal's reason.
 */
async function runProgram(
  program: string,
  args: string[],
  input: ReadableStream<Uint8Array> | undefined,
  action: string,
  debPackage: string,
  signal?: AbortSignal,
): Promise<void> {
  signal?.throwIfAborted();
  const child = spawn(program, args, { stdio: [input ? "pipe" : "ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (s: string) => {
    if (stderr.length < 65536) stderr += s;
  });
  const exited = new Promise<{ code: number | null; signal: string | null; error?: Error }>(
    (resolve) => {
      child.on("error", (error) => resolve({ code: null, signal: null, error }));
      child.on("close", (code, signal) => resolve({ code, signal }));
    },
  );
  const reader = input?.getReader();
  const onAbort = () => {
    child.kill("SIGKILL");
    reader?.cancel(signal!.reason).catch(() => {});
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  let inputError: { err: unknown } | undefined;
  if (input && reader) {
    const stdin = child.stdin!;
    stdin.on("error", () => {}); // EPIPE once the program has quit: its status says why
    const write = (chunk: Uint8Array) =>
      new Promise<void>((resolve) => {
        if (stdin.write(chunk)) return resolve();
        const done = () => {
          stdin.off("drain", done);
          stdin.off("close", done);
          resolve();
        };
        stdin.once("drain", done);
        stdin.once("close", done);
      });
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) break;
        if (stdin.destroyed || child.exitCode !== null) {
          await reader.cancel().catch(() => {});
          break;
        }
        await write(r.value);
      }
      stdin.end();
    } catch (err) {
      inputError = { err };
      child.kill("SIGKILL");
      stdin.destroy();
      await reader.cancel(err).catch(() => {});
    }
  }
  const r = await exited;
  signal?.removeEventListener("abort", onAbort);
  signal?.throwIfAborted();
  if (inputError) throw inputError.err;
  if (r.error) {
    const why = (r.error as NodeJS.ErrnoException).code === "ENOENT"
      ? `the ${program} program was not found: install the Debian package ${debPackage}`
      : r.error.message;
    throw new ImagoError(`${action}: ${why}`, { cause: r.error });
  }
  if (r.code !== 0) {
    throw new ImagoError(
      `${action}: ${program} failed: ${complaint(program, stderr, r.code, r.signal)}`,
    );
  }
}
