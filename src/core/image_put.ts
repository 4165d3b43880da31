/**
 * The writable part of an image (ImagePut) as YAML: what `imago show` prints, what `imago edit`
 * reads back, and what the server takes as a PUT body (JSON is YAML). Parsing uses the failsafe
 * schema, so every scalar stays the text that was written ("1.10" stays "1.10"), and booleans
 * and nulls are read the way LXD's Go YAML library reads them.
 */
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, stringify } from "yaml";
import { sortedMap, toApiImage } from "./api_image.ts";
import { MetadataError } from "./errors.ts";
import type { ImagePut, ImageRecord } from "./model.ts";

/** The keys an edit may change, in LXD's order. */
export const WRITABLE_KEYS = ["auto_update", "properties", "public", "expires_at", "profiles"];

/** Fields of api.Image that may appear in an edit but must keep their current value. */
const READ_ONLY_KEYS = new Set([
  "aliases",
  "architecture",
  "cached",
  "filename",
  "fingerprint",
  "size",
  "update_source",
  "type",
  "created_at",
  "last_used_at",
  "uploaded_at",
]);
const TIME_KEYS = new Set(["created_at", "last_used_at", "uploaded_at"]);

// YAML 1.1 booleans and nulls, as gopkg.in/yaml.v2 resolves them.
const TRUE = new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"]);
const FALSE = new Set(["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"]);
const NULL = new Set(["", "~", "null", "Null", "NULL"]);
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

const writableList = "auto_update, properties, public, expires_at and profiles";

/** The writable fields of a record. */
export function putOf(rec: ImageRecord): ImagePut {
  return {
    auto_update: rec.auto_update,
    properties: sortedMap(rec.properties),
    public: rec.public,
    expires_at: rec.expires_at,
    profiles: [...rec.profiles],
  };
}

/** YAML laid out like `lxc image show`: LXD's key order, sorted properties, unindented lists. */
export function formatImagePut(put: ImagePut): string {
  const doc = {
    auto_update: put.auto_update,
    properties: sortedMap(put.properties),
    public: put.public,
    expires_at: put.expires_at,
    profiles: put.profiles,
  };
  return stringify(doc, { indentSeq: false, lineWidth: 0 });
}

export interface ParsePutOptions {
  /** The image being edited: read-only fields present in the text must equal its values. */
  current?: ImageRecord;
  /** Names the input in error messages, e.g. "stdin". */
  file?: string;
}

/**
 * Parses an edited image document. Missing keys take LXD's PUT defaults (false, no properties,
 * expiry unchanged, profiles [default]); unknown keys and changed read-only fields are refused.
 * Errors are MetadataErrors naming the line.
 */
export function parseImagePut(text: string, opts: ParsePutOptions = {}): ImagePut {
  const file = opts.file ?? "image YAML";
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    schema: "failsafe",
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const fail = (node: Node | null | undefined, detail: string, offset?: number): never => {
    const at = offset ?? node?.range?.[0];
    const pos = at === undefined ? undefined : lines.linePos(at);
    throw new MetadataError(file, detail, pos?.line, pos?.col);
  };
  if (doc.errors.length) {
    const e = doc.errors[0];
    fail(null, e.message.split("\n")[0], e.pos[0]);
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && isNull(root))) {
    fail(null, `the document is empty: give ${writableList}`);
  }
  if (!isMap(root)) return fail(root, `expected a map of image fields (${writableList})`);

  const put: ImagePut = {
    auto_update: false,
    properties: {},
    public: false,
    expires_at: "",
    profiles: ["default"],
  };
  const current = opts.current ? toApiImage(opts.current) : undefined;
  for (const pair of root.items) {
    const keyNode = pair.key as Node;
    if (!isScalar(keyNode)) fail(keyNode, "keys must be plain names");
    const key = String((keyNode as { value: unknown }).value);
    const value = (pair.value ?? null) as Node | null;
    const where = value ?? keyNode;
    switch (key) {
      case "auto_update":
      case "public":
        put[key] = readBool(value, key, (d) => fail(where, d));
        break;
      case "properties":
        put.properties = readProperties(value, (n, d) => fail(n ?? where, d));
        break;
      case "expires_at": {
        const v = readString(value, key, (d) => fail(where, d));
        if (v !== null && !(RFC3339.test(v) && !Number.isNaN(Date.parse(v)))) {
          fail(where, `"expires_at" is not an RFC 3339 time: "${v}"`);
        }
        put.expires_at = v ?? "";
        break;
      }
      case "profiles":
        put.profiles = readProfiles(value, (n, d) => fail(n ?? where, d));
        break;
      default:
        if (!READ_ONLY_KEYS.has(key)) {
          fail(keyNode, `unknown key "${key}": the writable keys are ${writableList}`);
        }
        if (
          current && !sameValue(key, value, (current as unknown as Record<string, unknown>)[key])
        ) {
          fail(keyNode, `"${key}" cannot be changed: only ${writableList} can be edited`);
        }
    }
  }
  return put;
}

function isNull(node: Node | null): boolean {
  return node === null ||
    (isScalar(node) && node.type === "PLAIN" && NULL.has(String(node.value ?? "")));
}

function readBool(node: Node | null, key: string, fail: (d: string) => never): boolean {
  if (isNull(node)) return false;
  const v = isScalar(node) && node.type === "PLAIN" ? String(node.value) : undefined;
  if (v !== undefined && TRUE.has(v)) return true;
  if (v !== undefined && FALSE.has(v)) return false;
  return fail(`"${key}" must be true or false`);
}

function readString(node: Node | null, key: string, fail: (d: string) => never): string | null {
  if (isNull(node)) return null;
  if (!isScalar(node)) return fail(`"${key}" must be a string`);
  return String(node.value);
}

function readProperties(
  node: Node | null,
  fail: (n: Node | null, d: string) => never,
): Record<string, string> {
  if (isNull(node)) return {};
  if (!isMap(node)) return fail(node, `"properties" must be a map of strings`);
  const out: Record<string, string> = {};
  for (const p of node.items) {
    const k = p.key as Node;
    if (!isScalar(k)) fail(k, "property names must be strings");
    const name = String((k as { value: unknown }).value);
    const v = (p.value ?? null) as Node | null;
    if (isNull(v)) out[name] = "";
    else if (isScalar(v)) out[name] = String(v.value);
    else fail(v, `property "${name}" must be a string`);
  }
  return out;
}

function readProfiles(node: Node | null, fail: (n: Node | null, d: string) => never): string[] {
  if (isNull(node)) return ["default"];
  if (!isSeq(node)) return fail(node, `"profiles" must be a list of names`);
  return node.items.map((item) => {
    const n = item as Node;
    if (!isScalar(n) || isNull(n)) return fail(n, `"profiles" must be a list of names`);
    return String(n.value);
  });
}

/** Plain data from a failsafe node: strings, lists and maps; nulls become "". */
function plain(node: Node | null): unknown {
  if (isNull(node)) return "";
  if (isScalar(node)) return String(node.value);
  if (isSeq(node)) return node.items.map((n) => plain(n as Node));
  if (isMap(node)) {
    return Object.fromEntries(
      node.items.map((p) => [String((p.key as { value: unknown }).value), plain(p.value as Node)]),
    );
  }
  return "";
}

/** The same value as strings, keys sorted and aliases by name, so the two sides compare. */
function canonical(v: unknown): unknown {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) {
    const items = v.map(canonical);
    return items.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
  }
  if (typeof v === "object") {
    const entries = Object.entries(v as Record<string, unknown>);
    return Object.fromEntries(
      entries.sort(([a], [b]) => a < b ? -1 : 1).map((
        [k, x],
      ) => [k, canonical(x)]),
    );
  }
  return String(v);
}

function sameValue(key: string, node: Node | null, current: unknown): boolean {
  if (key === "cached") {
    const v = isScalar(node) && node.type === "PLAIN" ? String(node.value) : "";
    return (TRUE.has(v) && current === true) || (FALSE.has(v) && current === false);
  }
  if (TIME_KEYS.has(key)) {
    const given = isScalar(node) ? Date.parse(String(node.value)) : NaN;
    return given === Date.parse(String(current));
  }
  return JSON.stringify(canonical(plain(node))) === JSON.stringify(canonical(current));
}
