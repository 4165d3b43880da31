/**
 * Node streams as web stream stages: a node:zlib stream, or a child process fed on stdin and
 * read on stdout. Backpressure is carried both ways and failures get our error classes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { chunkAllocated } from "../../core/chunk_gc.ts";
import { ImagoError, InvalidInputError } from "../../core/errors.ts";

/** How a stage ends: null when all went well, else the error to report. */
type Outcome = Promise<Error | null>;

function pair(
  input: Writable,
  output: Readable,
  outcome: Outcome,
  stop: () => void,
  onEmpty?: () => void,
): TransformStream<Uint8Array, Uint8Array> {
  let failure: Error | null = null;
  let written = 0;
  const settled = outcome.then((e) => (failure = e));
  let control: ReadableStreamDefaultController<Uint8Array> | undefined;
  // Set once the readable side is cancelled, aborted or failed: later output is dropped.
  let closed = false;
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      control = c;
      output.on("data", (b: Uint8Array) => {
        if (closed) return;
        chunkAllocated(b.byteLength);
        c.enqueue(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
        if ((c.desiredSize ?? 0) <= 0) output.pause();
      });
      // Errors arrive through `outcome`, possibly before the output ends.
      settled.then((e) => {
        if (!e || closed) return;
        closed = true;
        c.error(e);
      });
      output.on("end", () => {
        settled.then((e) => {
          if (e) return;
          try {
            c.close();
          } catch { /* cancelled meanwhile */ }
        });
      });
      output.pause();
    },
    pull() {
      output.resume();
    },
    cancel() {
      closed = true;
      stop();
    },
  }, { highWaterMark: 4 });
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      if (failure) throw failure;
      written += chunk.byteLength;
      if (!input.write(chunk)) {
        await Promise.race([new Promise((r) => input.once("drain", r)), settled]);
      }
      if (failure) throw failure;
    },
    close() {
      if (!written && onEmpty) onEmpty();
      else input.end();
    },
    abort(reason) {
      stop();
      if (!closed) control?.error(reason);
      closed = true;
    },
  });
  return { writable, readable } as TransformStream<Uint8Array, Uint8Array>;
}

/**
 * A node:zlib (or other node Transform) stream as a web stage; errors go through `wrap`. With
 * `emptyIsError`, empty input fails too (Deno's zstd decoder accepts it; Node's does not).
 */
export function nodeTransform(
  stream: Readable & Writable,
  wrap: (err: Error) => Error,
  emptyIsError = false,
): TransformStream<Uint8Array, Uint8Array> {
  let settle: (e: Error | null) => void = () => {};
  const outcome = new Promise<Error | null>((resolve) => {
    settle = resolve;
    stream.on("error", (e) => resolve(wrap(e)));
    stream.on("end", () => resolve(null));
  });
  const onEmpty = () => {
    settle(wrap(new Error("unexpected end of file")));
    stream.destroy();
  };
  return pair(stream, stream, outcome, () => stream.destroy(), emptyIsError ? onEmpty : undefined);
}

/** "xz: (stdin): Unexpected end of input" -> "Unexpected end of input". */
function stderrDetail(program: string, stderr: string): string {
  const line = stderr.split("\n").map((l) => l.trim()).find((l) => l) ?? "";
  return line.replace(new RegExp(`^${program}:\\s*`), "")
    .replace(/^(\(stdin\)|\/\*stdin\*\\)\s*:\s*/, "")
    .replace(/\(stdin\)/g, "input")
    .replace(/\s*[;:.]$/, "");
}

/**
 * `path args...` as a web stage: input to stdin, output from stdout. A non-zero exit or any
 * stderr output fails the stage with "<action>: <first stderr line>"; decompression failures
 * are InvalidInputError, others ImagoError. Cancelling kills the process.
 */
export function programTransform(
  path: string,
  args: string[],
  action: string,
  decompressing: boolean,
): TransformStream<Uint8Array, Uint8Array> {
  const program = path.slice(path.lastIndexOf("/") + 1);
  const child: ChildProcess = spawn(path, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  let stopped = false;
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    if (stderr.length < 4096) stderr += s;
  });
  child.stdin!.on("error", () => {}); // EPIPE when the program gave up: its exit status says why
  const fail = (detail: string) =>
    decompressing
      ? new InvalidInputError(`${action}: ${detail}`)
      : new ImagoError(`${action}: ${detail}`);
  const outcome = new Promise<Error | null>((resolve) => {
    child.on("error", (e) => resolve(fail(`cannot run ${path}: ${e.message}`)));
    child.on("close", (code, signal) => {
      if (stopped) resolve(new ImagoError(`${action}: cancelled`));
      else if (stderr.trim()) resolve(fail(stderrDetail(program, stderr)));
      else if (code !== 0) resolve(fail(`${program} exited with ${code ?? signal}`));
      else resolve(null);
    });
  });
  return pair(child.stdin!, child.stdout!, outcome, () => {
    stopped = true;
    child.stdin!.destroy();
    child.kill();
  });
}
