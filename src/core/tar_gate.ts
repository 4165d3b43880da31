/**
 * A streaming gate in front of GNU tar: it parses every tar header itself and passes an entry's
 * bytes on only after the entry was found safe, so tar never sees an entry nobody checked. It
 * refuses absolute and ".." names, entries (and hard links) that lead through an earlier symlink
 * entry, hard links out of the extracted tree, and any header GNU tar could read differently
 * (bad checksum, data on a hard link or directory, conflicting pax names, unknown types). For a
 * unified image it forwards only rootfs/ and keeps metadata.yaml and templates/ in memory (capped).
 */
import { Buffer } from "node:buffer";
import { InvalidInputError } from "./errors.ts";
import { concat } from "./streams.ts";
import { safeEntryName } from "./tar.ts";
import { parsePax, readNumber, readString, validChecksum } from "./tar_header.ts";

export interface GateOptions {
  /** "unified": forward rootfs/ only, capture metadata.yaml and templates/; "split": all. */
  layout: "unified" | "split";
  /** Drop character and block devices (an unprivileged tar cannot create them). */
  dropDevices: boolean;
  /** Starts every error message, e.g. `Cannot unpack "ubuntu"`. */
  action: string;
}

export interface GateResult {
  /** metadata.yaml of a unified image. */
  metadata?: Uint8Array;
  /** templates/<name> files of a unified image, by name. */
  templates: Map<string, Uint8Array>;
  /** Entries forwarded to tar. */
  entries: number;
  droppedDevices: number;
}

const BLOCK = 512;
/** Caps for what is held in memory: pax and long-name data, metadata.yaml, templates. */
const META_MAX = 1 << 20;
const TEMPLATE_MAX = 1 << 20;
const TEMPLATES_TOTAL_MAX = 16 << 20;
const ZEROS = new Uint8Array(2 * BLOCK);
/** Entry types passed on: files, links, devices, directories, FIFOs, GNU dump directories. */
const TYPES = new Set(["0", "1", "2", "3", "4", "5", "6", "7", "D"]);

type Action = "pass" | "drop" | "meta" | "capture";

/** The entry headers seen since the last real entry (pax 'x', GNU 'L'/'K') and their bytes. */
interface Group {
  blocks: Uint8Array[];
  pax?: Map<string, string>;
  longName?: string;
  longLink?: string;
}

/** Components without "", "." and repeated slashes; undefined for absolute names and "..". */
function normalize(name: string): string | undefined {
  const safe = safeEntryName(name);
  if (safe === undefined) return undefined;
  const parts = safe.split("/").filter((p) => p !== "" && p !== ".");
  return parts.length ? parts.join("/") : ".";
}

/** The gate as a TransformStream plus the captured files once the stream has ended. */
export function tarGate(opts: GateOptions): {
  stream: TransformStream<Uint8Array, Uint8Array>;
  result(): GateResult;
} {
  const action = opts.action;
  const bad = (detail: string) => new InvalidInputError(`${action}: ${detail}`);
  const res: GateResult = { templates: new Map(), entries: 0, droppedDevices: 0 };
  const symlinks = new Set<string>();
  let templateBytes = 0;

  const header = new Uint8Array(BLOCK);
  let fill = 0; // bytes of a header gathered so far
  let group: Group = { blocks: [] };
  let act: Action = "pass";
  let left = 0; // data and padding bytes of the current entry still to come
  let dataLeft = 0; // data bytes (without padding) still to come
  let parts: Uint8Array[] = []; // data kept for "meta" and "capture"
  let metaType = ""; // type of the extended header being read
  let onCapture: ((data: Uint8Array) => void) | undefined;
  let ended = false;

  /** Rejects a name leading through an earlier symlink entry. */
  const checkPath = (name: string, what: string) => {
    let at = name.indexOf("/");
    while (at >= 0) {
      const parent = name.slice(0, at);
      if (symlinks.has(parent)) {
        throw bad(`unsafe tar entry: ${what} "${name}" goes through the symlink "${parent}"`);
      }
      at = name.indexOf("/", at + 1);
    }
  };
  const under = (name: string) => name === "rootfs" || name.startsWith("rootfs/");

  /** All names a reader may take for this entry, each checked; the first is tar's choice. */
  const names = (candidates: (string | undefined)[], what: string): string[] => {
    const out: string[] = [];
    for (const raw of candidates) {
      if (raw === undefined) continue;
      const n = normalize(raw);
      if (n === undefined) {
        throw bad(`unsafe tar entry ${what}"${raw}": absolute paths and ".." are not allowed`);
      }
      out.push(n);
    }
    return out;
  };

  /** Decides what happens to the entry whose header is `h`; returns the data action. */
  const decide = (h: Uint8Array): Action => {
    const type = h[156] === 0 ? "0" : String.fromCharCode(h[156]);
    const pax = group.pax;
    const paxName = pax?.get("GNU.sparse.name") ?? pax?.get("path");
    if (pax?.has("path") && paxName !== pax.get("path")) {
      throw bad(`tar entry "${pax.get("path")}" has two different pax names`);
    }
    const magic = readString(h, 257, 6);
    const prefix = magic === "ustar" ? readString(h, 345, 155) : "";
    const plain = readString(h, 0, 100);
    const headerName = prefix ? `${prefix}/${plain}` : plain;
    const effective = paxName ?? group.longName ?? headerName;
    const all = names([effective, group.longName, headerName], "");
    const name = all[0];
    if (!TYPES.has(type)) throw bad(`tar entry "${name}" has an unsupported type "${type}"`);
    const size = pax?.has("size") ? Number(pax.get("size")) : readNumber(h, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) throw bad(`tar entry "${name}" has a bad size`);
    // GNU tar reads no data for these, so data there could hide headers from one reader.
    const slash = (type === "0" || type === "7") && /\/$/.test(effective);
    if ((type === "1" || type === "5" || slash) && size !== 0) {
      throw bad(`tar entry "${name}" is a ${type === "1" ? "hard link" : "directory"} with data`);
    }
    if (name === "." && type !== "5") throw bad(`the tar entry "." must be a directory`);
    for (const n of all) checkPath(n, "entry");
    if (opts.layout === "unified" && all.some(under) !== all.every(under)) {
      throw bad(`tar entry "${name}" has names inside and outside rootfs/`);
    }
    let keep = opts.layout === "split" || under(name);
    if (keep && opts.layout === "unified" && name === "rootfs" && type !== "5") {
      throw bad(`"rootfs" in the image must be a directory`);
    }
    if (type === "1") {
      const field = readString(h, 157, 100);
      const link = pax?.get("linkpath") ?? group.longLink ?? field;
      const targets = names([link, group.longLink, field], "hard link target ");
      for (const t of targets) checkPath(t, "hard link target");
      if (keep && opts.layout === "unified" && !targets.every(under)) {
        throw bad(`unsafe hard link "${name}" to "${link}": it points outside rootfs/`);
      }
    }
    if (type === "2") { for (const n of all) symlinks.add(n); }
    if (keep && (type === "3" || type === "4") && opts.dropDevices) {
      keep = false;
      res.droppedDevices++;
    }
    left = Math.ceil(size / BLOCK) * BLOCK;
    dataLeft = size;
    if (keep) {
      res.entries++;
      return "pass";
    }
    if (opts.layout === "unified" && (type === "0" || type === "7")) return capture(name, size);
    return "drop";
  };

  /** Arranges for metadata.yaml and templates/<file> to be kept; other files are dropped. */
  const capture = (name: string, size: number): Action => {
    if (name === "metadata.yaml") {
      if (res.metadata) throw bad("the image has more than one metadata.yaml");
      if (size > META_MAX) throw bad("metadata.yaml is larger than 1 MiB");
      onCapture = (d) => res.metadata = d;
      return "capture";
    }
    const m = /^templates\/([^/]+)$/.exec(name);
    if (!m) return "drop";
    templateBytes += size;
    if (size > TEMPLATE_MAX || templateBytes > TEMPLATES_TOTAL_MAX) {
      throw bad(`template "${m[1]}" is too large: the limits are 1 MiB each, 16 MiB in all`);
    }
    onCapture = (d) => res.templates.set(Buffer.from(m[1], "latin1").toString("utf8"), d);
    return "capture";
  };

  /**
   * A complete header block: sets `act`, `left` and `dataLeft` for what follows and returns the
   * blocks to forward now (the last may be `h` itself), or "end" at the end-of-archive block.
   */
  const onHeader = (h: Uint8Array): Uint8Array[] | "end" => {
    if (h.every((b) => b === 0)) {
      if (group.blocks.length) throw bad("the tar archive ends inside an entry's headers");
      return "end";
    }
    if (!validChecksum(h)) throw bad("not a tar archive, or a corrupt one (bad header checksum)");
    const type = String.fromCharCode(h[156]);
    if (type === "x" || type === "L" || type === "K" || type === "g") {
      if (type === "g" && group.blocks.length) throw bad("misplaced pax global header");
      const size = readNumber(h, 124, 12);
      if (!Number.isSafeInteger(size) || size < 0 || size > META_MAX) {
        throw bad("a tar extended header is too large or corrupt");
      }
      group.blocks.push(h.slice());
      left = Math.ceil(size / BLOCK) * BLOCK;
      dataLeft = size;
      act = "meta";
      metaType = type;
      return [];
    }
    act = decide(h);
    const blocks = group.blocks;
    group = { blocks: [] };
    if (act !== "pass") return [];
    blocks.push(h);
    return blocks;
  };

  /** Records what an extended header says about the next entry (pax globals are checked). */
  const metaDone = (type: string, data: Uint8Array) => {
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
    if (type === "L") group.longName = text.replace(/\0.*$/s, "");
    else if (type === "K") group.longLink = text.replace(/\0.*$/s, "");
    else {
      const records = parsePax(text);
      if (!records) throw bad("a pax extended header is corrupt");
      if (type === "x") group.pax = new Map([...(group.pax ?? []), ...records]);
      for (const k of type === "g" ? records.keys() : []) {
        if (/^(path|linkpath|size|GNU\.)/.test(k)) throw bad(`a pax global header sets "${k}"`);
      }
    }
  };

  /** The data of the current entry is complete; returns blocks to forward (pax globals). */
  const finish = (): Uint8Array[] => {
    const data = parts.length === 1 ? parts[0] : concat(parts);
    parts = [];
    const was = act;
    act = "pass";
    if (was === "capture") onCapture!(data);
    if (was !== "meta") return [];
    metaDone(metaType, data);
    if (metaType !== "g") return [];
    const blocks = group.blocks;
    group = { blocks: [] };
    return blocks;
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
            if (act === "meta") group.blocks.push(chunk.slice(off, off + n));
          }
          off += n;
          left -= n;
          dataLeft -= d;
          if (left === 0) {
            flushRun(off);
            for (const b of finish()) c.enqueue(b);
          }
          continue;
        }
        // A header: whole in this chunk, or gathered across chunks. Nothing of it is forwarded
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
        const out = onHeader(h);
        if (out === "end") {
          c.enqueue(ZEROS);
          ended = true;
          break;
        }
        for (const b of out) {
          if (b === h && off - start === BLOCK) runStart = start;
          else c.enqueue(b);
        }
        if (left === 0 && act !== "pass") {
          flushRun(off);
          for (const b of finish()) c.enqueue(b);
        }
      }
      flushRun(off);
    },
    flush(c) {
      if (ended) return;
      if (fill > 0 || left > 0 || group.blocks.length) {
        throw bad("the tar archive is truncated");
      }
      c.enqueue(ZEROS);
    },
  });
  return { stream, result: () => res };
}
