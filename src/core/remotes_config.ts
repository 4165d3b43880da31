/**
 * The client's remotes, kept like lxc's config.yml in $XDG_CONFIG_HOME/imago (~/.config/imago):
 * `default-remote` and `remotes: {name: {addr, protocol, public, auth_type}}`. As in lxc, `local`
 * (here: the store), `ubuntu` and `ubuntu-daily` are static: always present, never changed;
 * `images` is a default that may be removed. Pinned server certificates live in
 * servercerts/<name>.crt, the client certificate in client.crt / client.key.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import {
  ConflictError,
  ImagoError,
  InvalidInputError,
  NotFoundError,
  UsageError,
} from "./errors.ts";

export interface RemoteConfig {
  addr: string;
  /** Empty means lxd, as in lxc. */
  protocol?: string;
  public?: boolean;
  auth_type?: string;
}

export interface RemoteEntry extends RemoteConfig {
  name: string;
  protocol: string;
  /** Built in and unchangeable. */
  static: boolean;
}

const STATIC: Record<string, RemoteConfig> = {
  local: { addr: "unix://", public: false },
  ubuntu: {
    addr: "https://cloud-images.ubuntu.com/releases",
    protocol: "simplestreams",
    public: true,
  },
  "ubuntu-daily": {
    addr: "https://cloud-images.ubuntu.com/daily",
    protocol: "simplestreams",
    public: true,
  },
};
const DEFAULTS: Record<string, RemoteConfig> = {
  images: { addr: "https://images.linuxcontainers.org", protocol: "simplestreams", public: true },
};

/** The name of the store as a remote. */
export const LOCAL = "local";

/** $XDG_CONFIG_HOME/imago, else ~/.config/imago. */
export function configDir(env: Record<string, string | undefined>): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "imago");
}

/** Checks a new remote name: not empty, no ":" (it separates REMOTE:REF), no "/". */
export function checkRemoteName(name: string): void {
  if (!name || /[:/\\\s]/.test(name) || name === "." || name === "..") {
    throw new UsageError(
      `Invalid remote name "${name}": use letters, digits, "-", "_" or "." (no ":" or "/")`,
    );
  }
}

export class RemotesConfig {
  readonly dir: string;
  defaultRemote: string;
  readonly #remotes: Map<string, RemoteConfig>;

  private constructor(dir: string, def: string, remotes: Map<string, RemoteConfig>) {
    this.dir = dir;
    this.defaultRemote = def;
    this.#remotes = remotes;
  }

  get file(): string {
    return join(this.dir, "config.yml");
  }

  /** Reads config.yml from `dir`; without one, lxc's defaults. */
  static load(dir: string): RemotesConfig {
    const file = join(dir, "config.yml");
    if (!existsSync(file)) {
      return new RemotesConfig(dir, LOCAL, new Map(Object.entries(DEFAULTS)));
    }
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new InvalidInputError(`Cannot read "${file}": ${(err as Error).message}`, {
        cause: err,
      });
    }
    const obj = (doc ?? {}) as { "default-remote"?: unknown; remotes?: unknown };
    const remotes = new Map<string, RemoteConfig>();
    if (obj.remotes && typeof obj.remotes === "object") {
      for (const [name, raw] of Object.entries(obj.remotes as Record<string, unknown>)) {
        const r = (raw ?? {}) as Record<string, unknown>;
        if (typeof r.addr !== "string") continue;
        remotes.set(name, {
          addr: r.addr,
          protocol: typeof r.protocol === "string" ? r.protocol : undefined,
          public: r.public === true,
          auth_type: typeof r.auth_type === "string" ? r.auth_type : undefined,
        });
      }
    }
    const def = typeof obj["default-remote"] === "string" ? obj["default-remote"] : LOCAL;
    return new RemotesConfig(dir, def, remotes);
  }

  has(name: string): boolean {
    return name in STATIC || this.#remotes.has(name);
  }

  get(name: string): RemoteEntry {
    const cfg = STATIC[name] ?? this.#remotes.get(name);
    if (!cfg) throw new NotFoundError(`Remote "${name}" doesn't exist`);
    return { ...cfg, name, protocol: cfg.protocol || "lxd", static: name in STATIC };
  }

  /** Every remote, sorted by name. */
  list(): RemoteEntry[] {
    const names = new Set([...Object.keys(STATIC), ...this.#remotes.keys()]);
    return [...names].sort().map((n) => this.get(n));
  }

  add(name: string, cfg: RemoteConfig): void {
    checkRemoteName(name);
    if (this.has(name)) throw new ConflictError(`Remote "${name}" exists already`);
    this.#remotes.set(name, cfg);
  }

  remove(name: string): void {
    this.#mutable(name);
    if (this.defaultRemote === name) {
      throw new UsageError(`Cannot remove remote "${name}": it is the default remote`);
    }
    this.#remotes.delete(name);
    rmSync(this.certificatePath(name), { force: true });
  }

  rename(from: string, to: string): void {
    this.#mutable(from);
    checkRemoteName(to);
    if (this.has(to)) throw new ConflictError(`Remote "${to}" exists already`);
    this.#remotes.set(to, this.#remotes.get(from)!);
    this.#remotes.delete(from);
    if (existsSync(this.certificatePath(from))) {
      renameSync(this.certificatePath(from), this.certificatePath(to));
    }
    if (this.defaultRemote === from) this.defaultRemote = to;
  }

  setDefault(name: string): void {
    this.get(name);
    this.defaultRemote = name;
  }

  /** Writes config.yml (aside, then renamed). */
  save(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const remotes: Record<string, RemoteConfig> = {};
    for (const [name, r] of [...this.#remotes].sort(([a], [b]) => a < b ? -1 : 1)) {
      remotes[name] = {
        addr: r.addr,
        ...(r.auth_type ? { auth_type: r.auth_type } : {}),
        ...(r.protocol ? { protocol: r.protocol } : {}),
        public: r.public ?? false,
      };
    }
    const text = stringify({ "default-remote": this.defaultRemote, remotes, aliases: {} });
    const tmp = `${this.file}.new`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  certificatePath(name: string): string {
    return join(this.dir, "servercerts", `${name}.crt`);
  }

  /** The pinned server certificate (PEM) of a remote, if any. */
  certificate(name: string): string | undefined {
    const path = this.certificatePath(name);
    return existsSync(path) ? readFileSync(path, "utf8") : undefined;
  }

  saveCertificate(name: string, pem: string): void {
    mkdirSync(join(this.dir, "servercerts"), { recursive: true, mode: 0o700 });
    writeFileSync(this.certificatePath(name), pem, { mode: 0o644 });
  }

  #mutable(name: string): void {
    if (name in STATIC) throw new ImagoError(`Remote ${name} is static and cannot be modified`);
    if (!this.#remotes.has(name)) throw new NotFoundError(`Remote "${name}" doesn't exist`);
  }
}
