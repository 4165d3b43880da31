/**
 * LXD's `filter=` query language for list endpoints (lxd/filter in 5.0.2): clauses
 * `[not] <field> eq|ne <value>` joined by `and`/`or`, evaluated left to right. Fields are the
 * object's JSON keys, dotted into maps (`properties.os`). Strings match as case-insensitive
 * regular expressions anchored at both ends unless the value holds `^` or `$`.
 */
import { InvalidInputError } from "../core/errors.ts";

export interface Clause {
  not: boolean;
  field: string;
  op: "eq" | "ne";
  value: string;
  /** How this clause joins the result so far; the first clause's is "and". */
  join: "and" | "or";
  /** `value` compiled once, so a bad expression is reported before any matching. */
  re: RegExp;
}

const MAX_FILTER = 4096;
const MAX_CLAUSES = 32;

function bad(detail: string): never {
  throw new InvalidInputError(`Invalid filter: ${detail}`);
}

/** Parses a filter string; an empty or blank one gives no clauses (everything matches). */
export function parseFilter(text: string): Clause[] {
  if (text.length > MAX_FILTER) bad(`longer than ${MAX_FILTER} characters`);
  const words = text.split(/\s+/).filter((w) => w !== "");
  const clauses: Clause[] = [];
  let i = 0;
  let join: Clause["join"] = "and";
  const next = (what: string) => {
    if (i >= words.length) bad(`clause ends before its ${what}`);
    return words[i++];
  };
  while (i < words.length) {
    let not = false;
    if (words[i].toLowerCase() === "not") {
      not = true;
      i++;
    }
    const field = next("field");
    const op = next("operator");
    if (op !== "eq" && op !== "ne") bad(`unknown operator "${op}": use eq or ne`);
    let value = next("value");
    if (value.startsWith('"')) {
      // A quoted value may span words: "Debian 12" arrives as two.
      let text = value.slice(1);
      while (!text.endsWith('"')) text += " " + next("closing quote");
      value = text.slice(0, -1);
    }
    clauses.push({ not, field, op, value, join, re: compile(value) });
    if (clauses.length > MAX_CLAUSES) bad(`more than ${MAX_CLAUSES} clauses`);
    if (i < words.length) {
      const j = words[i++].toLowerCase();
      if (j !== "and" && j !== "or") bad(`expected "and" or "or", got "${j}"`);
      join = j;
      if (i >= words.length) bad(`nothing after "${j}"`);
    }
  }
  return clauses;
}

/**
 * JavaScript regular expressions backtrack; Go's do not. Refusing quantified groups,
 * back-references and many quantifiers keeps a hostile filter from pinning the CPU.
 */
function compile(value: string): RegExp {
  if (value.length > 256) bad(`value longer than 256 characters`);
  const quantifiers = value.match(/(?<!\\)[*+?{]/g)?.length ?? 0;
  if (/\)[*+?{]/.test(value) || /\\[1-9k]/.test(value) || quantifiers > 4) {
    bad(`value "${value}" is too complex a regular expression`);
  }
  const anchored = value.includes("^") || value.includes("$") ? value : `^(?:${value})$`;
  try {
    return new RegExp(anchored, "i");
  } catch {
    bad(`value "${value}" is not a valid regular expression`);
  }
}

/** The value at a dotted field path; inside a string map the rest of the path is one key. */
function valueOf(obj: unknown, field: string): unknown {
  const parts = field.split(".");
  let cur: unknown = obj;
  for (let i = 0; i < parts.length; i++) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    const rec = cur as Record<string, unknown>;
    const rest = parts.slice(i).join(".");
    if (i > 0 && Object.hasOwn(rec, rest)) return rec[rest];
    if (!Object.hasOwn(rec, parts[i])) return undefined;
    cur = rec[parts[i]];
  }
  return cur;
}

function clauseMatches(obj: unknown, c: Clause): boolean {
  const v = valueOf(obj, c.field);
  let eq = false;
  if (typeof v === "string") eq = c.re.test(v);
  // LXD 5.0.2 never matches booleans and numbers; comparing their text form is more useful.
  else if (typeof v === "boolean" || typeof v === "number") eq = String(v) === c.value;
  const hit = c.op === "eq" ? eq : !eq;
  return c.not ? !hit : hit;
}

/** Whether `obj` passes the clauses (no clauses: always). */
export function matchFilter(obj: unknown, clauses: Clause[]): boolean {
  let result = true;
  for (const c of clauses) {
    const m = clauseMatches(obj, c);
    result = c.join === "and" ? result && m : result || m;
  }
  return result;
}
