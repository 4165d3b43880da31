/**
 * metadata.yaml of an LXD image: parsed with the `yaml` Document API so that every error names
 * the line and column of the offending key or value. Decoding follows LXD's (go-yaml v2, YAML 1.1):
 * unknown keys are ignored and scalars decoded into strings keep their source text.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node, Pair } from "yaml";
import { ARCHITECTURES, canonicalArch } from "./arch.ts";
import { MetadataError } from "./errors.ts";

export type TemplateTrigger = "create" | "copy" | "start" | "rename";

export interface TemplateEntry {
  when: TemplateTrigger[];
  /** Only write the target if it does not exist yet. */
  create_only: boolean;
  /** File name under templates/ in the image. */
  template: string;
  properties: Record<string, string>;
}

export interface ImageMetadata {
  /** Canonical name (amd64 is stored as x86_64). */
  architecture: string;
  /** Unix seconds, never 0. */
  creation_date: number;
  /** Unix seconds; 0 = never expires. */
  expiry_date: number;
  properties: Record<string, string>;
  /** Absolute target path inside the instance → entry. */
  templates: Record<string, TemplateEntry>;
}

const TRIGGERS: readonly string[] = ["create", "copy", "start", "rename"];

/** Builds MetadataErrors located at a node of one parsed document. */
class Locator {
  readonly file: string;
  readonly #doc: Document;
  readonly #lines: LineCounter;
  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.#doc = doc;
    this.#lines = lines;
  }

  /** `at` is a node (or pair member) whose start is reported; without one, no position. */
  error(detail: string, at?: unknown): MetadataError {
    const range = (at as { range?: [number, number, number] | null } | null | undefined)?.range;
    if (!range) return new MetadataError(this.file, detail);
    const { line, col } = this.#lines.linePos(range[0]);
    return new MetadataError(this.file, detail, line, col);
  }

  /** The node itself, or what an alias (`*name`) points at. */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.#doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }
}

/** Parses and validates metadata.yaml; throws MetadataError naming `file`, line and column. */
export function parseMetadata(text: string | Uint8Array, file = "metadata.yaml"): ImageMetadata {
  let source: string;
  try {
    source = typeof text === "string"
      ? text
      : new TextDecoder("utf-8", { fatal: true }).decode(text);
  } catch {
    throw new MetadataError(file, "the file is not valid UTF-8");
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, {
    lineCounter: lines,
    version: "1.1",
    prettyErrors: false,
    uniqueKeys: true,
  });
  const at = new Locator(file, doc, lines);
  const bad = doc.errors[0];
  if (bad) {
    const { line, col } = lines.linePos(bad.pos[0]);
    throw new MetadataError(file, `invalid YAML: ${bad.message}`, line, col);
  }
  const top = at.deref(doc.contents);
  if (!isMap(top)) {
    throw at.error("the top level must be a mapping of keys to values", top);
  }
  const fields = pairsByKey(at, top.items as Pair[]);

  const archPair = fields.get("architecture");
  const archName = archPair ? scalarText(at, archPair, "architecture") : "";
  if (!archName) throw at.error("architecture is required", archPair?.value ?? archPair?.key);
  const architecture = canonicalArch(archName);
  if (!architecture) {
    throw at.error(
      `architecture "${archName}" is not supported: use one of ${ARCHITECTURES.join(", ")}`,
      archPair!.value,
    );
  }

  const created = fields.get("creation_date");
  const creation_date = created ? unixTime(at, created, "creation_date") : 0;
  if (creation_date === 0) {
    throw at.error("creation_date is required and must not be 0", created?.value ?? created?.key);
  }
  const expiry = fields.get("expiry_date");
  const expiry_date = expiry ? unixTime(at, expiry, "expiry_date") : 0;

  const propsPair = fields.get("properties");
  const properties = propsPair ? stringMap(at, propsPair, "properties") : {};
  const tplPair = fields.get("templates");
  const templates = tplPair ? templateMap(at, tplPair) : {};
  return { architecture, creation_date, expiry_date, properties, templates };
}

/** The pairs of a mapping by their key's text; later duplicates cannot occur (uniqueKeys). */
function pairsByKey(at: Locator, items: Pair[]): Map<string, Pair> {
  const out = new Map<string, Pair>();
  for (const pair of items) {
    const key = at.deref(pair.key);
    if (!isScalar(key)) throw at.error("keys must be plain values, not lists or mappings", key);
    out.set(textOf(key), pair);
  }
  return out;
}

/** A scalar as go-yaml decodes it into a Go string: plain scalars keep their source text. */
function textOf(node: Node): string {
  if (!isScalar(node) || node.value === null || node.value === undefined) return "";
  if (node.type === "PLAIN" && node.source !== undefined) return node.source;
  return String(node.value);
}

function scalarText(at: Locator, pair: Pair, what: string): string {
  const value = at.deref(pair.value);
  if (value !== null && !isScalar(value)) {
    throw at.error(`${what} must be a single value, not a list or mapping`, value);
  }
  return value === null ? "" : textOf(value);
}

/** Unix seconds: a non-negative integer (a missing value counts as 0). */
function unixTime(at: Locator, pair: Pair, what: string): number {
  const value = at.deref(pair.value);
  if (value === null || (isScalar(value) && value.value === null)) return 0;
  const n = isScalar(value) ? value.value : undefined;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
    throw at.error(`${what} must be a whole number of seconds since 1970 (unix time)`, value);
  }
  return n;
}

/** A mapping of strings to strings; numbers and booleans are taken as their source text. */
function stringMap(at: Locator, pair: Pair, what: string): Record<string, string> {
  const value = at.deref(pair.value);
  if (value === null || (isScalar(value) && value.value === null)) return {};
  if (!isMap(value)) throw at.error(`${what} must be a mapping of names to values`, value);
  const out: Record<string, string> = {};
  for (const [key, item] of pairsByKey(at, value.items as Pair[])) {
    out[key] = scalarText(at, item, `${what}.${key}`);
  }
  return out;
}

function templateMap(at: Locator, pair: Pair): Record<string, TemplateEntry> {
  const value = at.deref(pair.value);
  if (value === null || (isScalar(value) && value.value === null)) return {};
  if (!isMap(value)) throw at.error("templates must be a mapping of paths to entries", value);
  const out: Record<string, TemplateEntry> = {};
  for (const [path, item] of pairsByKey(at, value.items as Pair[])) {
    if (!path.startsWith("/")) {
      throw at.error(`template target "${path}" must be an absolute path`, item.key);
    }
    out[path] = templateEntry(at, path, item);
  }
  return out;
}

function templateEntry(at: Locator, path: string, pair: Pair): TemplateEntry {
  const where = `templates."${path}"`;
  const value = at.deref(pair.value);
  if (!isMap(value)) throw at.error(`${where} must be a mapping`, value ?? pair.key);
  const fields = pairsByKey(at, value.items as Pair[]);

  const tplPair = fields.get("template");
  const template = tplPair ? scalarText(at, tplPair, `${where}.template`) : "";
  if (!template) throw at.error(`${where}.template is required`, tplPair?.value ?? pair.key);
  if (template.includes("/") || template === ".." || template === ".") {
    throw at.error(
      `${where}.template "${template}" must be a file name under templates/, without "/"`,
      tplPair!.value,
    );
  }

  const when: TemplateTrigger[] = [];
  const whenPair = fields.get("when");
  const whenNode = whenPair ? at.deref(whenPair.value) : null;
  if (whenNode !== null && !(isScalar(whenNode) && whenNode.value === null)) {
    if (!isSeq(whenNode)) {
      throw at.error(`${where}.when must be a list of: ${TRIGGERS.join(", ")}`, whenNode);
    }
    for (const raw of whenNode.items) {
      const item = at.deref(raw);
      const trigger = item !== null && isScalar(item) ? textOf(item) : "";
      if (!TRIGGERS.includes(trigger)) {
        throw at.error(
          `${where}.when has "${trigger}": use ${TRIGGERS.join(", ")}`,
          item ?? whenNode,
        );
      }
      when.push(trigger as TemplateTrigger);
    }
  }

  const onlyPair = fields.get("create_only");
  const onlyNode = onlyPair ? at.deref(onlyPair.value) : null;
  let create_only = false;
  if (onlyNode !== null && !(isScalar(onlyNode) && onlyNode.value === null)) {
    if (!isScalar(onlyNode) || typeof onlyNode.value !== "boolean") {
      throw at.error(`${where}.create_only must be true or false`, onlyNode);
    }
    create_only = onlyNode.value;
  }

  const propsPair = fields.get("properties");
  const properties = propsPair ? stringMap(at, propsPair, `${where}.properties`) : {};
  return { when, create_only, template, properties };
}
