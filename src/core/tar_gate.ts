/**
 * Putting tar_check.ts between an image and GNU tar, two ways. tarGate() is a stream filter: it
 * passes an entry's bytes on only after the entry was checked, drops what must not be
 * extracted, and ends at the first zero block as tar does, so tar never sees an unchecked entry.
 * checkTarFile() checks an uncompressed tar file by its headers alone, skipping file data, so
 * that tar can then read the file itself with no copy through this process.
 */
import { open } from "node:fs/promises";
import { InvalidInputError } from "./errors.ts";
import { concat } from "./streams.ts";
import {
  type Action,
  BLOCK,
  type CheckOptions,
  type CheckResult,
  TarChecker,
} from "./tar_check.ts";

export type { CheckOptions, CheckResult };

const ZEROS = new Uint8Array(2 * BLOCK);

/** The gate as a TransformStream, and what it captured once the stream has ended. */
export function tarGate(opts: CheckOptions): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  result(): CheckResult;
} {
  const checker = new TarChecker(opts);
  const header = new Uint8Array(BLOCK);
  let fill = 0; // bytes of a header gathered so far
  let act: Action = "pass";
  let left = 0; // data and padding bytes of the current entry still to come
  let dataLeft = 0; // data bytes (without padding) still to come
  let parts: Uint8Array[] = []; // data kept for "meta" and "capture"
  let ended = false;

  /** The data of a "meta" or "capture" entry is complete: blocks to forward (pax globals). */
  const finish = (): Uint8Array[] => {
    const data = concat(parts);
    parts = [];
    const was = act;
    act = "pass";
    return checker.data(was, data);
  };

  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      let off = 0;
      let runStart = -1; // start of a run of bytes in `chunk` forwarded unchanged
      const flushRun = (end: number) => {
        if (runStart >= 0 && end > runStart) c.enqueue(chunk.subarray(runStart, end));
        runStart = -1;
      };
      while (off < chunk.byteLength && !ended) {
        if (left > 0) {
          const n = Math.min(left, chunk.byteLength - off);
          const d = Math.min(n, dataLeft);
          if (act === "pass") {
            if (runStart < 0) runStart = off;
          } else if (act !== "drop") {
            if (d > 0) parts.push(chunk.slice(off, off + d));
            if (act === "meta") checker.raw(chunk.slice(off, off + n));
          }
          off += n;
          left -= n;
          dataLeft -= d;
          if (left === 0 && (act === "meta" || act === "capture")) {
            flushRun(off);
            for (const b of finish()) c.enqueue(b);
          }
          continue;
        }
        // A header, whole in this chunk or gathered across chunks; none of it is forwarded
        // before it has been checked.
        flushRun(off);
        const start = off;
        let h: Uint8Array;
        if (fill === 0 && chunk.byteLength - off >= BLOCK) {
          h = chunk.subarray(off, off + BLOCK);
          off += BLOCK;
        } else {
          const n = Math.min(BLOCK - fill, chunk.byteLength - off);
          header.set(chunk.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill < BLOCK) continue;
          fill = 0;
          h = header.slice();
        }
        const step = checker.header(h);
        if (!step) {
          c.enqueue(ZEROS);
          ended = true;
          break;
        }
        act = step.act;
        left = step.padded;
        dataLeft = step.size;
        for (const b of step.forward) {
          if (b === h && off - start === BLOCK) runStart = start;
          else c.enqueue(b);
        }
        if (left === 0 && (act === "meta" || act === "capture")) {
          flushRun(off);
          for (const b of finish()) c.enqueue(b);
        }
      }
      flushRun(off);
    },
    flush(c) {
      if (ended) return;
      if (fill > 0 || left > 0 || !checker.complete()) {
        throw new InvalidInputError(`${opts.action}: the tar archive is truncated`);
      }
      c.enqueue(ZEROS);
    },
  });
  return { stream, result: () => checker.result };
}

/** Bytes read per window when scanning a file's headers. */
const WINDOW = 1 << 20;

/**
 * Checks the uncompressed tar file at `path` as tarGate() would, reading headers (and the data
 * of extended headers and captured files) but skipping other file data.
 */
export async function checkTarFile(path: string, opts: CheckOptions): Promise<CheckResult> {
  const checker = new TarChecker(opts);
  const truncated = () => new InvalidInputError(`${opts.action}: the tar archive is truncated`);
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    let buf = new Uint8Array(0);
    let bufAt = 0; // file offset of buf[0]
    /** `n` bytes at `off`, from the current window or a new one starting there. */
    const at = async (off: number, n: number): Promise<Uint8Array> => {
      if (off + n > size) throw truncated();
      if (off < bufAt || off + n > bufAt + buf.byteLength) {
        buf = new Uint8Array(Math.min(Math.max(n, WINDOW), size - off));
        bufAt = off;
        let got = 0;
        while (got < buf.byteLength) {
          const r = await fh.read(buf, got, buf.byteLength - got, off + got);
          if (r.bytesRead === 0) throw truncated();
          got += r.bytesRead;
        }
      }
      return buf.subarray(off - bufAt, off - bufAt + n);
    };
    let off = 0;
    while (off < size) {
      const step = checker.header(await at(off, BLOCK));
      off += BLOCK;
      if (!step) return checker.result;
      if (step.act === "meta" || step.act === "capture") {
        checker.data(step.act, (await at(off, step.size)).slice());
      }
      off += step.padded;
    }
    if (off > size || !checker.complete()) throw truncated();
    return checker.result;
  } finally {
    await fh.close();
  }
}
