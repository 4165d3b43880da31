/**
 * The store's settings (`imago config get|set|unset`), the images.* keys of LXD's server
 * config with LXD's defaults: how long cached images live, how often auto-update runs, whether
 * cached images auto-update, and the compression `build` uses.
 */
import { InvalidInputError, UsageError } from "./errors.ts";
import type { Store } from "./store.ts";
import type { Registry } from "../plugins/registry.ts";
import type { Compressor } from "../plugins/types.ts";

interface Setting {
  default: string;
  help: string;
  /** Throws InvalidInputError for a bad value; returns it normalised. */
  check(value: string, compressors: Registry<Compressor>): string;
}

function integer(key: string, value: string): string {
  if (!/^-?\d+$/.test(value.trim())) {
    throw new InvalidInputError(`Invalid value for "${key}": "${value}" is not a whole number`);
  }
  return String(Number(value.trim()));
}

const BOOLS: Record<string, string> = {
  true: "true",
  "1": "true",
  yes: "true",
  on: "true",
  false: "false",
  "0": "false",
  no: "false",
  off: "false",
};

export const SETTINGS: Readonly<Record<string, Setting>> = {
  "images.remote_cache_expiry": {
    default: "10",
    help: "days an unused cached image is kept (0 or less: forever)",
    check: (v) => integer("images.remote_cache_expiry", v),
  },
  "images.auto_update_interval": {
    default: "6",
    help: "hours between auto-updates while serving (0: never)",
    check: (v) => {
      const n = integer("images.auto_update_interval", v);
      if (Number(n) < 0) {
        throw new InvalidInputError(`Invalid value for "images.auto_update_interval": "${v}"`);
      }
      return n;
    },
  },
  "images.auto_update_cached": {
    default: "true",
    help: "whether images cached implicitly are kept up to date",
    check: (v) => {
      const b = BOOLS[v.trim().toLowerCase()];
      if (!b) {
        throw new InvalidInputError(
          `Invalid value for "images.auto_update_cached": "${v}": use true or false`,
        );
      }
      return b;
    },
  },
  "images.compression_algorithm": {
    default: "gzip",
    help: "compression of images made by build",
    check: (v, compressors) => {
      const usable = compressors.list().filter((c) => c.compress).map((c) => c.name);
      if (!usable.includes(v.trim())) {
        throw new InvalidInputError(
          `Invalid value for "images.compression_algorithm": "${v}": use one of ` +
            usable.join(", "),
        );
      }
      return v.trim();
    },
  },
};

function known(key: string): Setting {
  const s = SETTINGS[key];
  if (!s) {
    throw new UsageError(`Unknown setting "${key}": known are ${Object.keys(SETTINGS).join(", ")}`);
  }
  return s;
}

/** The value of `key`, or its default. */
export function getSetting(store: Store, key: string): string {
  return store.config(key) ?? known(key).default;
}

/** Numeric settings as numbers. */
export function getNumber(store: Store, key: string): number {
  return Number(getSetting(store, key));
}

export function setSetting(store: Store, key: string, value: string): string {
  const v = known(key).check(value, store.compressors);
  store.setConfig(key, v);
  return v;
}

export function unsetSetting(store: Store, key: string): void {
  known(key);
  store.setConfig(key, undefined);
}
