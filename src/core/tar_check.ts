/**
 * The safety rules for a root filesystem tarball, applied header by header before GNU tar may
 * see an entry: no absolute or ".." names, no entry (or hard link) leading through an earlier
 * symlink entry, no hard link out of the extracted tree, and nothing GNU tar could read
 * differently from this parser (bad checksum, data on a hard link or directory, two different
 * pax names, unknown types). For a unified image only rootfs/ is kept, and metadata.yaml and
 * templates/ are held in memory (capped). tar_gate.ts drives it over a stream or a file.
 */
import { Buffer } from "node:buffer";
import { InvalidInputError } from "./errors.ts";
import { safeEntryName } from "./tar.ts";
import { parsePax, readNumber, readString, validChecksum } from "./tar_header.ts";

export interface CheckOptions {
  /** "unified": keep rootfs/ only, capture metadata.yaml and templates/; "split": keep all. */
  layout: "unified" | "split";
  /** Drop character and block devices (an unprivileged tar cannot create them). */
  dropDevices: boolean;
  /** Starts every error message, e.g. `Cannot unpack "ubuntu"`. */
  action: string;
}

export interface CheckResult {
  /** metadata.yaml of a unified image. */
  metadata?: Uint8Array;
  /** templates/<name> files of a unified image, by name. */
  templates: Map<string, Uint8Array>;
  /** Entries kept (forwarded to tar). */
  entries: number;
  /** Device nodes dropped (dropDevices), and device nodes seen anywhere. */
  droppedDevices: number;
  devices: number;
}

/**
 * What to do with the bytes after a header: "pass" them to tar, "drop" them, or hand them to
 * `data()` ("meta": an extended header, "capture": metadata.yaml or a template).
 */
export type Action = "pass" | "drop" | "meta" | "capture";

export interface Step {
  act: Action;
  /** Data bytes that follow, and the same rounded up to whole blocks. */
  size: number;
  padded: number;
  /** Blocks to forward now (a kept entry's extended headers and its header). */
  forward: Uint8Array[];
}

export const BLOCK = 512;
/** Caps for what is held in memory: extended header data, metadata.yaml, templates. */
const META_MAX = 1 << 20;
const TEMPLATE_MAX = 1 << 20;
const TEMPLATES_TOTAL_MAX = 16 << 20;
/** Entry types kept: files, links, devices, directories, FIFOs, GNU dump directories. */
const TYPES = new Set(["0", "1", "2", "3", "4", "5", "6", "7", "D"]);

/** Components without "", "." and repeated slashes; undefined for absolute names and "..". */
function normalize(name: string): string | undefined {
  const safe = safeEntryName(name);
  if (safe === undefined) return undefined;
  const parts = safe.split("/").filter((p) => p !== "" && p !== ".");
  return parts.length ? parts.join("/") : ".";
}

const under = (name: string) => name === "rootfs" || name.startsWith("rootfs/");

/** Checks one tar archive, header by header (see the module comment). */
export class TarChecker {
  readonly result: CheckResult = {
    templates: new Map(),
    entries: 0,
    droppedDevices: 0,
    devices: 0,
  };
  readonly #opts: CheckOptions;
  readonly #symlinks = new Set<string>();
  #templateBytes = 0;
  /** Extended headers (pax 'x', GNU 'L'/'K') since the last entry, and their raw blocks. */
  #group: {
    blocks: Uint8Array[];
    pax?: Map<string, string>;
    longName?: string;
    longLink?: string;
  } = { blocks: [] };
  #metaType = "";
  #onCapture?: (data: Uint8Array) => void;

  constructor(opts: CheckOptions) {
    this.#opts = opts;
  }

  #bad(detail: string): InvalidInputError {
    return new InvalidInputError(`${this.#opts.action}: ${detail}`);
  }

  /** A header block: what follows it, or undefined at the end-of-archive (zero) block. */
  header(h: Uint8Array): Step | undefined {
    if (h.every((b) => b === 0)) {
      if (this.#group.blocks.length) {
        throw this.#bad("the tar archive ends inside an entry's headers");
      }
      return undefined;
    }
    if (!validChecksum(h)) {
      throw this.#bad("not a tar archive, or a corrupt one (bad header checksum)");
    }
    const type = String.fromCharCode(h[156]);
    if (type === "x" || type === "L" || type === "K" || type === "g") {
      if (type === "g" && this.#group.blocks.length) throw this.#bad("misplaced pax global header");
      const size = readNumber(h, 124, 12);
      if (!Number.isSafeInteger(size) || size < 0 || size > META_MAX) {
        throw this.#bad("a tar extended header is too large or corrupt");
      }
      this.#group.blocks.push(h.slice());
      this.#metaType = type;
      return { act: "meta", size, padded: padded(size), forward: [] };
    }
    const { act, size } = this.#decide(h);
    const blocks = this.#group.blocks;
    this.#group = { blocks: [] };
    return { act, size, padded: padded(size), forward: act === "pass" ? [...blocks, h] : [] };
  }

  /** Raw bytes (data and padding) of the extended header being read, kept for forwarding. */
  raw(bytes: Uint8Array): void {
    this.#group.blocks.push(bytes);
  }

  /** The whole data of a "meta" or "capture" entry; returns blocks to forward (pax globals). */
  data(act: Action, data: Uint8Array): Uint8Array[] {
    if (act === "capture") {
      this.#onCapture!(data);
      this.#onCapture = undefined;
      return [];
    }
    const type = this.#metaType;
    const group = this.#group;
    const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("latin1");
    if (type === "L") group.longName = text.replace(/\0.*$/s, "");
    else if (type === "K") group.longLink = text.replace(/\0.*$/s, "");
    else {
      const records = parsePax(text);
      if (!records) throw this.#bad("a pax extended header is corrupt");
      if (type === "x") group.pax = new Map([...(group.pax ?? []), ...records]);
      for (const k of type === "g" ? records.keys() : []) {
        if (/^(path|linkpath|size|GNU\.)/.test(k)) {
          throw this.#bad(`a pax global header sets "${k}"`);
        }
      }
    }
    if (type !== "g") return [];
    this.#group = { blocks: [] };
    return group.blocks;
  }

  /** Whether the archive ended cleanly (no extended header without its entry). */
  complete(): boolean {
    return this.#group.blocks.length === 0;
  }

  /** Rejects a name leading through an earlier symlink entry. */
  #checkPath(name: string, what: string): void {
    for (let at = name.indexOf("/"); at >= 0; at = name.indexOf("/", at + 1)) {
      const parent = name.slice(0, at);
      if (this.#symlinks.has(parent)) {
        throw this.#bad(`unsafe tar entry: ${what} "${name}" goes through the symlink "${parent}"`);
      }
    }
  }

  /** Every name a reader may take for the entry, each checked; the first is tar's choice. */
  #names(candidates: (string | undefined)[], what: string): string[] {
    const out: string[] = [];
    for (const raw of candidates) {
      if (raw === undefined) continue;
      const n = normalize(raw);
      if (n === undefined) {
        throw this.#bad(
          `unsafe tar entry ${what}"${raw}": absolute paths and ".." are not allowed`,
        );
      }
      out.push(n);
    }
    return out;
  }

  /** Applies the rules to a real entry's header; decides what happens to its data. */
  #decide(h: Uint8Array): { act: Action; size: number } {
    const opts = this.#opts;
    const { pax, longName, longLink } = this.#group;
    const type = h[156] === 0 ? "0" : String.fromCharCode(h[156]);
    const paxName = pax?.get("GNU.sparse.name") ?? pax?.get("path");
    if (pax?.has("path") && paxName !== pax.get("path")) {
      throw this.#bad(`tar entry "${pax.get("path")}" has two different pax names`);
    }
    const prefix = readString(h, 257, 6) === "ustar" ? readString(h, 345, 155) : "";
    const plain = readString(h, 0, 100);
    const headerName = prefix ? `${prefix}/${plain}` : plain;
    const effective = paxName ?? longName ?? headerName;
    const all = this.#names([effective, longName, headerName], "");
    const name = all[0];
    if (!TYPES.has(type)) throw this.#bad(`tar entry "${name}" has an unsupported type "${type}"`);
    const size = pax?.has("size") ? Number(pax.get("size")) : readNumber(h, 124, 12);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw this.#bad(`tar entry "${name}" has a bad size`);
    }
    // GNU tar reads no data for these, so data there could hide headers from one reader.
    const slash = (type === "0" || type === "7") && effective.endsWith("/");
    if ((type === "1" || type === "5" || slash) && size !== 0) {
      const kind = type === "1" ? "hard link" : "directory";
      throw this.#bad(`tar entry "${name}" is a ${kind} with data`);
    }
    if (name === "." && type !== "5") throw this.#bad(`the tar entry "." must be a directory`);
    for (const n of all) this.#checkPath(n, "entry");
    const unified = opts.layout === "unified";
    if (unified && all.some(under) !== all.every(under)) {
      throw this.#bad(`tar entry "${name}" has names inside and outside rootfs/`);
    }
    let keep = !unified || under(name);
    if (keep && unified && name === "rootfs" && type !== "5") {
      throw this.#bad(`"rootfs" in the image must be a directory`);
    }
    if (type === "1") {
      const field = readString(h, 157, 100);
      const link = pax?.get("linkpath") ?? longLink ?? field;
      const targets = this.#names([link, longLink, field], "hard link target ");
      for (const t of targets) this.#checkPath(t, "hard link target");
      if (keep && unified && !targets.every(under)) {
        throw this.#bad(`unsafe hard link "${name}" to "${link}": it points outside rootfs/`);
      }
    }
    if (type === "2") { for (const n of all) this.#symlinks.add(n); }
    if (type === "3" || type === "4") {
      this.result.devices++;
      if (keep && opts.dropDevices) {
        keep = false;
        this.result.droppedDevices++;
      }
    }
    if (keep) {
      this.result.entries++;
      return { act: "pass", size };
    }
    if (unified && (type === "0" || type === "7")) return { act: this.#capture(name, size), size };
    return { act: "drop", size };
  }

  /** metadata.yaml and templates/<file> of a unified image are kept; other files dropped. */
  #capture(name: string, size: number): Action {
    const res = this.result;
    if (name === "metadata.yaml") {
      if (res.metadata) throw this.#bad("the image has more than one metadata.yaml");
      if (size > META_MAX) throw this.#bad("metadata.yaml is larger than 1 MiB");
      this.#onCapture = (d) => res.metadata = d;
      return "capture";
    }
    const m = /^templates\/([^/]+)$/.exec(name);
    if (!m) return "drop";
    this.#templateBytes += size;
    if (size > TEMPLATE_MAX || this.#templateBytes > TEMPLATES_TOTAL_MAX) {
      throw this.#bad(`template "${m[1]}" is too large: the limits are 1 MiB each, 16 MiB in all`);
    }
    const file = Buffer.from(m[1], "latin1").toString("utf8");
    this.#onCapture = (d) => res.templates.set(file, d);
    return "capture";
  }
}

const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK;
