/**
 * pongo2's value semantics (flosch/pongo2 value.go, filters_builtin.go) for the nunjucks
 * rewrite in pongo2.ts: how values print, which are true, how they compare, and the filters
 * whose pongo2 meaning differs from nunjucks' filter of the same name.
 */
import nunjucks from "nunjucks";

const SafeString = nunjucks.runtime.SafeString;

/** A SafeString (from `safe`) as its text; anything else unchanged. */
function plain(v: unknown): unknown {
  return v instanceof SafeString ? String(v) : v;
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Value.String(): nil prints nothing, booleans True/False, floats with six decimals. */
export function p2String(v: unknown): unknown {
  if (v === undefined || v === null) return "";
  if (v instanceof SafeString) return v;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(6);
  return v;
}

const text = (v: unknown) => String(p2String(plain(v)));

/** Value.IsTrue(): empty strings, lists and maps, zero and nil are false. */
export function p2True(value: unknown): boolean {
  const v = plain(value);
  if (typeof v === "string" || Array.isArray(v)) return v.length > 0;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "boolean") return v;
  if (isMap(v)) return Object.keys(v).length > 0;
  return false;
}

/** Value.Negate(): numbers become 0 or 1, strings, lists and maps their emptiness. */
function p2Not(value: unknown): unknown {
  const v = plain(value);
  if (typeof v === "number") return v !== 0 ? 0 : 1;
  if (typeof v === "string" || Array.isArray(v)) return v.length === 0;
  if (typeof v === "boolean") return !v;
  if (isMap(v)) return Object.keys(v).length === 0;
  return true;
}

/** Value.EqualValueTo(): same type and value; nil equals nil. */
export function p2Equal(a: unknown, b: unknown): boolean {
  const x = plain(a);
  const y = plain(b);
  if ((x === undefined || x === null) && (y === undefined || y === null)) return true;
  return typeof x === typeof y && x === y;
}

/** Value.Float(): numbers, and strings that parse as a whole; anything else is 0. */
function toFloat(value: unknown): number {
  const v = plain(value);
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v)) return Number(v);
  return 0;
}

const isFloat = (v: unknown) => typeof v === "number" && !Number.isInteger(v);

/** The relational operators: floats when either side is one, else whole numbers. */
function p2Compare(op: string, a: unknown, b: unknown): boolean {
  if (op === "==") return p2Equal(a, b);
  if (op === "!=") return !p2Equal(a, b);
  const float = isFloat(a) || isFloat(b);
  const x = float ? toFloat(a) : Math.trunc(toFloat(a));
  const y = float ? toFloat(b) : Math.trunc(toFloat(b));
  if (op === "<") return x < y;
  if (op === ">") return x > y;
  if (op === "<=") return x <= y;
  return x >= y;
}

/** `for x in map` walks the sorted keys, as pongo2 does; nunjucks would walk nothing. */
function p2Iterate(value: unknown): unknown {
  const v = plain(value);
  return isMap(v) ? Object.keys(v).sort() : v;
}

/** Globals the rewritten templates call (names no LXD context key can take). */
export const PONGO2_HELPERS: Record<string, (...args: never[]) => unknown> = {
  __p2_str: p2String,
  __p2_true: p2True,
  __p2_not: p2Not,
  __p2_and: (a: unknown, b: unknown) => p2True(a) && p2True(b),
  __p2_or: (a: unknown, b: unknown) => p2True(a) || p2True(b),
  __p2_cmp: p2Compare,
  __p2_iter: p2Iterate,
};

/** Length in characters (runes), items or keys. */
function length(value: unknown): number {
  const v = plain(value);
  if (typeof v === "string") return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  return 0;
}

/** yesno:"yes,no,maybe": nil gives the third choice (or the second when there are two). */
function yesno(value: unknown, arg?: unknown): unknown {
  const choices = arg === undefined ? ["yes", "no", "maybe"] : text(arg).split(",");
  if (choices.length < 2 || choices.length > 3) {
    throw new Error("yesno: give 2 or 3 comma-separated choices");
  }
  const v = plain(value);
  if (v === undefined || v === null) return choices[2] ?? choices[1];
  return p2True(v) ? choices[0] : choices[1];
}

/** add: sums numbers (a float if either is one), otherwise joins the printed values. */
function add(a: unknown, b: unknown): unknown {
  const x = plain(a);
  const y = plain(b);
  if (typeof x === "number" && typeof y === "number") {
    return isFloat(x) || isFloat(y) ? x + y : Math.trunc(x) + Math.trunc(y);
  }
  return text(x) + text(y);
}

/** pongo2's meaning for filters nunjucks also has, and a few pongo2-only ones. */
export const PONGO2_FILTERS: Record<string, (...args: never[]) => unknown> = {
  default: (v: unknown, d: unknown) => p2True(v) ? v : d,
  default_if_none: (v: unknown, d: unknown) => v === undefined || v === null ? d : v,
  capfirst: (v: unknown) => {
    const s = text(v);
    const first = [...s][0] ?? "";
    return first.toUpperCase() + s.slice(first.length);
  },
  cut: (v: unknown, arg: unknown) => text(v).split(text(arg)).join(""),
  lower: (v: unknown) => text(v).toLowerCase(),
  upper: (v: unknown) => text(v).toUpperCase(),
  length,
  yesno,
  add,
  integer: (v: unknown) => Math.trunc(toFloat(v)),
  float: (v: unknown) => toFloat(v),
};
