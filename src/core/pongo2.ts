/**
 * Templates as LXD renders them with pongo2 (Django syntax), done with nunjucks. nunjucks parses
 * the same `{{ }}` / `{% %}` language; what differs is rewritten: pongo2-only spellings in the
 * source (`|filter:arg`, `&&`, `||`, `!`, `<>`, `{% empty %}`), and in the syntax tree the
 * meaning of comparisons, `and`/`or`/`not`, truth and printing (pongo2 prints True/False, treats
 * empty maps as false, compares "1" and 1 as different). Filters whose pongo2 meaning differs are
 * replaced. Autoescape is off, as LXD wraps every template in {% autoescape off %}.
 */
import { readFileSync, realpathSync } from "node:fs";
import { join, posix, sep } from "node:path";
import nunjucks from "nunjucks";
import { InvalidInputError } from "./errors.ts";
import { PONGO2_FILTERS, PONGO2_HELPERS } from "./pongo2_values.ts";

// nunjucks ships no types; these are the few members used here.
// deno-lint-ignore no-explicit-any
type AnyNode = any;
interface Template {
  render(ctx: object): string;
}

const N = nunjucks.nodes;
const INCLUDE_MAX = 1 << 20;

/** Rewrites pongo2-only spellings inside `{{ }}` and `{% %}` into nunjucks ones. */
export function preprocess(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{", i);
    const kind = open >= 0 ? src[open + 1] : undefined;
    if (kind === undefined) {
      out += src.slice(i);
      break;
    }
    if (kind === "#") {
      const end = src.indexOf("#}", open + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop);
      i = stop;
      continue;
    }
    if (kind !== "{" && kind !== "%") {
      out += src.slice(i, open + 1);
      i = open + 1;
      continue;
    }
    const close = kind === "{" ? "}}" : "%}";
    const { body, end } = tagBody(src, open + 2, close);
    out += src.slice(i, open + 2) + rewriteTag(body, kind) + (end > src.length ? "" : close);
    i = Math.min(end, src.length);
    const word = body.replace(/^-/, "").trim().split(/\s+/)[0];
    if (kind === "%" && (word === "raw" || word === "verbatim")) {
      // Copied as is up to its end tag: nunjucks handles raw blocks itself.
      const close = new RegExp(`{%-?\\s*end${word}\\s*-?%}`, "g");
      close.lastIndex = i;
      const m = close.exec(src);
      const stop = m ? m.index : src.length;
      out += src.slice(i, stop);
      i = stop;
    }
  }
  return out;
}

/** The text of a tag up to (and its end index past) the closing delimiter outside strings. */
function tagBody(src: string, from: number, close: string): { body: string; end: number } {
  let j = from;
  while (j < src.length) {
    const ch = src[j];
    if (ch === '"' || ch === "'") {
      j++;
      while (j < src.length && src[j] !== ch) j += src[j] === "\\" ? 2 : 1;
      j++;
    } else if (src.startsWith(close, j)) {
      return { body: src.slice(from, j), end: j + close.length };
    } else j++;
  }
  return { body: src.slice(from), end: src.length + 1 }; // unclosed: nunjucks will say so
}

/** Rewrites one tag body: operators and filter arguments outside string literals. */
function rewriteTag(body: string, kind: string): string {
  const bare = body.replace(/^-/, "").replace(/-$/, "").trim();
  if (kind === "%" && bare === "empty") return body.replace("empty", "else");
  // Split into code and string literal pieces; strings stay as they are.
  const pieces = body.split(/("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')/s);
  for (let k = 0; k < pieces.length; k += 2) {
    let code = pieces[k]
      .replace(/&&/g, " and ")
      .replace(/\|\|/g, " or ")
      .replace(/<>/g, "!=")
      .replace(/!(?!=)/g, " not ")
      .replace(/\|\s*([A-Za-z_]\w*)\s*:\s*([-+]?[\w.]+)/g, "|$1($2)");
    // `|name:"text"`: the argument is the next piece, a string literal.
    const m = /\|\s*([A-Za-z_]\w*)\s*:\s*$/.exec(code);
    if (m && k + 1 < pieces.length) {
      code = code.slice(0, m.index) + `|${m[1]}(`;
      pieces[k + 1] += ")";
    }
    pieces[k] = code;
  }
  return pieces.join("");
}

/** A call of one of the PONGO2_HELPERS, placed where `at` was. */
function helper(at: AnyNode, name: string, args: AnyNode[]): AnyNode {
  const { lineno, colno } = at;
  return new N.FunCall(
    lineno,
    colno,
    new N.Symbol(lineno, colno, name),
    new N.NodeList(lineno, colno, args),
  );
}

const FORLOOP: Record<string, string> = {
  Counter: "index",
  Counter0: "index0",
  Revcounter: "revindex",
  Revcounter0: "revindex0",
  First: "first",
  Last: "last",
};

/** Gives a nunjucks syntax tree pongo2's meaning (see the module comment). */
function rewrite(node: AnyNode): AnyNode {
  switch (node.typename) {
    case "Output":
      node.children = node.children.map((c: AnyNode) =>
        c.typename === "TemplateData" ? c : helper(c, "__p2_str", [rewrite(c)])
      );
      return node;
    case "If":
    case "InlineIf":
      node.cond = helper(node.cond, "__p2_true", [rewrite(node.cond)]);
      node.body = rewrite(node.body);
      if (node.else_) node.else_ = rewrite(node.else_);
      return node;
    case "For":
      if (node.name.typename === "Symbol") node.arr = helper(node.arr, "__p2_iter", [node.arr]);
      break;
    case "And":
    case "Or":
      return logic(node);
    case "Not":
      // pongo2 binds `not` tighter than comparisons: `not a == b` is `(not a) == b`.
      if (node.target.typename === "Compare") {
        const cmp = node.target;
        cmp.expr = new N.Not(node.lineno, node.colno, cmp.expr);
        return rewrite(cmp);
      }
      return helper(node, "__p2_not", [rewrite(node.target)]);
    case "Compare":
      return compare(node);
    case "LookupVal":
      if (node.target.typename === "Symbol" && node.target.value === "forloop") {
        const key = FORLOOP[node.val.value];
        if (key) {
          return new N.LookupVal(node.lineno, node.colno, rename(node.target), lit(node, key));
        }
      }
      break;
  }
  for (const field of node.fields as string[]) {
    const v = node[field];
    if (v instanceof N.Node) node[field] = rewrite(v);
    else if (Array.isArray(v)) node[field] = v.map((x) => x instanceof N.Node ? rewrite(x) : x);
  }
  return node;
}

const lit = (at: AnyNode, value: unknown) => new N.Literal(at.lineno, at.colno, value);
const rename = (sym: AnyNode) => new N.Symbol(sym.lineno, sym.colno, "loop");

/** pongo2 reads `a and b or c` as `a and (b or c)`: one precedence, grouping to the right. */
function logic(node: AnyNode): AnyNode {
  const items: AnyNode[] = [];
  const ops: string[] = [];
  const walk = (n: AnyNode) => {
    if (n.typename !== "And" && n.typename !== "Or") return void items.push(n);
    walk(n.left);
    ops.push(n.typename === "And" ? "__p2_and" : "__p2_or");
    walk(n.right);
  };
  walk(node);
  let acc = rewrite(items[items.length - 1]);
  for (let i = ops.length - 1; i >= 0; i--) acc = helper(node, ops[i], [rewrite(items[i]), acc]);
  return acc;
}

/** pongo2 compares pairwise, grouping to the right, with its own equality and ordering. */
function compare(node: AnyNode): AnyNode {
  const operands = [node.expr, ...node.ops.map((o: AnyNode) => o.expr)].map(rewrite);
  let acc = operands[operands.length - 1];
  for (let i = node.ops.length - 1; i >= 0; i--) {
    const op = node.ops[i].type;
    acc = op === "===" || op === "!=="
      ? new N.Compare(node.lineno, node.colno, operands[i], [
        new N.CompareOperand(node.lineno, node.colno, acc, op),
      ])
      : helper(node, "__p2_cmp", [lit(node, op), operands[i], acc]);
  }
  return acc;
}

/** Compiles a template in pongo2 mode into nunjucks' template properties. */
function compileProps(src: string, name: string): object {
  const ast = nunjucks.parser.parse(preprocess(src), [], {});
  const c = new nunjucks.compiler.Compiler(name, false);
  c.compile(rewrite(ast));
  return new Function(c.getCode())();
}

/**
 * Where `{% include %}` and the like may read: `name` as a path in the instance root, as LXD's
 * ChrootLoader reads it, refused when it leaves the root (also through symlinks).
 */
function includeLoader(root: string | undefined) {
  return {
    getSource(name: string) {
      if (root === undefined) {
        throw new Error(`"${name}" cannot be included: there is no root filesystem here`);
      }
      const outside = new Error(`"${name}" cannot be included: it is outside the instance`);
      if (name.split("/").includes("..")) throw outside;
      const real = realpathSync(root);
      const target = realpathSync(join(real, posix.normalize(`/${name}`)));
      if (target !== real && !target.startsWith(real + sep)) throw outside;
      const bytes = readFileSync(target);
      if (bytes.byteLength > INCLUDE_MAX) throw new Error(`"${name}" is larger than 1 MiB`);
      const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return { src: { type: "code", obj: compileProps(text, name) }, path: name, noCache: true };
    },
  };
}

/** Renders pongo2 template text with `context`; includes read from `root` when given. */
export function renderPongo2(
  text: string,
  name: string,
  context: Record<string, unknown>,
  root?: string,
): string {
  const env = new nunjucks.Environment([includeLoader(root)], { autoescape: false });
  for (const [k, f] of Object.entries(PONGO2_HELPERS)) env.addGlobal(k, f);
  for (const [k, f] of Object.entries(PONGO2_FILTERS)) env.addFilter(k, f);
  try {
    const tpl: Template = new nunjucks.Template(
      { type: "code", obj: compileProps(text, name) },
      env,
      name,
      true,
    );
    return tpl.render(context);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new InvalidInputError(
      `Cannot render template "${name}": ${detail.replace(/\s*\n\s*/g, " ").trim()}`,
      { cause: err },
    );
  }
}
