/**
 * The catalogue page at `/` for browsers: public images with the commands to use them. `lxc`
 * and LXD also ask for `/` (any TLS answer does for them; LXD answers ["/1.0"]), so HTML goes
 * only to clients whose Accept prefers text/html.
 */
import nunjucks from "nunjucks";
import type { ImageRecord } from "../core/model.ts";

/** True when the Accept header ranks text/html above JSON (browsers, not lxc or curl). */
export function prefersHtml(accept: string | null): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qp ? Number(qp.slice(2)) || 0 : 1;
    if (type === "text/html") html = Math.max(html, q + 0.001); // explicit beats wildcard
    else if (type === "application/json") json = Math.max(json, q + 0.001);
    else if (type === "text/*") html = Math.max(html, q);
    else if (type === "*/*") {
      html = Math.max(html, q);
      json = Math.max(json, q);
    }
  }
  return html > json;
}

const TEMPLATE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem;
    color: #1d232a; background: #fafbfc; }
  h1 { font-size: 1.6rem; margin-bottom: .2rem; }
  p.sub { color: #57606a; margin-top: 0; }
  pre { background: #1d232a; color: #e6edf3; padding: .8rem 1rem; border-radius: 6px;
    overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; background: #fff; font-size: .92rem; }
  th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid #d0d7de;
    vertical-align: top; }
  th { background: #f0f3f6; font-weight: 600; }
  td.num, td.date { text-align: right; white-space: nowrap; }
  code { font-family: ui-monospace, monospace; font-size: .88em; }
  td pre { margin: .3rem 0 0; padding: .4rem .6rem; font-size: .8rem; }
  .empty { color: #57606a; font-style: italic; }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<p class="sub">{{ images | length }} public image{{ "" if images | length == 1 else "s" }}.
This is an LXD image server: add it as a remote, then copy or launch its images.</p>
<pre id="remote-add">lxc remote add {{ remote }} {{ url }} --public</pre>
<p>Or as a simplestreams remote (needs a certificate your system trusts):</p>
<pre id="remote-add-ss">lxc remote add {{ remote }}-ss {{ url }} --protocol=simplestreams</pre>
{% if images | length %}
<table id="images">
<thead><tr><th>Alias</th><th>Description</th><th>Architecture</th><th>Type</th>
<th>Size</th><th>Created</th><th>Fingerprint</th></tr></thead>
<tbody>
{% for i in images %}
<tr>
<td>{% for a in i.aliases %}<code>{{ a }}</code>{% if not loop.last %}<br>{% endif %}{% else %}<span class="empty">none</span>{% endfor %}</td>
<td>{{ i.description }}</td>
<td>{{ i.architecture }}</td>
<td>{{ i.type }}</td>
<td class="num">{{ i.size }}</td>
<td class="date">{{ i.date }}</td>
<td><code title="{{ i.fingerprint }}">{{ i.fingerprint | truncate(12, true, "") }}</code>
<pre>lxc image copy {{ remote }}:{{ i.ref }} local:</pre></td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p class="empty">No public images yet: publish one with <code>imago edit REF</code> (public: true)
or <code>imago import --public</code>.</p>
{% endif %}
</body>
</html>
`;

interface Template {
  render(context: object): string;
}

let compiled: Template | undefined;

function template(): Template {
  if (compiled) return compiled;
  const env = new nunjucks.Environment(null, { autoescape: true, throwOnUndefined: false });
  const t: Template = nunjucks.compile(TEMPLATE, env);
  compiled = t;
  return t;
}

/** 1.2 MiB style, as the page shows sizes. */
export function humanSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${n.toFixed(1)} ${units[u]}`;
}

export interface CatalogueOptions {
  /** Base URL clients use, e.g. https://images.example:8443 */
  url: string;
  /** Remote name in the command lines. */
  remote?: string;
  title?: string;
}

/** The page for `images` (already filtered to what the client may see). */
export function renderCatalogue(images: readonly ImageRecord[], opts: CatalogueOptions): string {
  const rows = images.map((r) => ({
    aliases: r.aliases.map((a) => a.name),
    ref: r.aliases[0]?.name ?? r.fingerprint.slice(0, 12),
    description: r.properties.description ?? "",
    architecture: r.architecture,
    type: r.type,
    size: humanSize(r.size),
    date: r.created_at.slice(0, 10),
    fingerprint: r.fingerprint,
  }));
  rows.sort((a, b) => a.ref.localeCompare(b.ref));
  return template().render({
    title: opts.title ?? "imago image server",
    remote: opts.remote ?? "imago",
    url: opts.url,
    images: rows,
  });
}
