/** A store holding public and private, unified and split images, for the serve tests. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ImageRecord } from "../../src/core/model.ts";
import { Store } from "../../src/core/store.ts";
import { fileStream } from "../../src/core/streams.ts";
import { type ImageSpec, makeSplit, makeUnified, tempDir } from "../helpers.ts";

export interface ServeFixture {
  store: Store;
  /** Temp folder holding the store (at ./store) and the source files. */
  dir: string;
  pubUnified: ImageRecord;
  pubSplit: ImageRecord;
  pubVm: ImageRecord;
  pubArm: ImageRecord;
  privUnified: ImageRecord;
  privSplit: ImageRecord;
  cleanup(): void;
}

const src = (path: string) => ({ stream: fileStream(path), name: path });

function props(os: string, release: string, description: string): ImageSpec["properties"] {
  return { description, os, release, variant: "default" };
}

/** Imports a unified image made from `spec` under one alias. */
export async function addUnified(
  store: Store,
  dir: string,
  name: string,
  opts: { public: boolean; alias?: string; spec?: ImageSpec },
): Promise<ImageRecord> {
  const file = makeUnified(dir, name, { compression: "gz", ...opts.spec });
  const aliases = opts.alias ? [{ name: opts.alias, description: `${name} alias` }] : [];
  return (await store.import(src(file), undefined, { public: opts.public, aliases })).image;
}

/** Imports a split image (tar rootfs, or a stand-in qcow2 with `vm`). */
export async function addSplit(
  store: Store,
  dir: string,
  name: string,
  opts: { public: boolean; alias?: string; spec?: ImageSpec; vm?: boolean },
): Promise<ImageRecord> {
  const files = makeSplit(dir, name, { compression: "gz", ...opts.spec });
  let rootfs = files.rootfs;
  if (opts.vm) {
    rootfs = join(dir, `${name}.qcow2`);
    const text = `QFI\xfb\x00\x00\x00\x03 stand-in disk for ${name}\n`.repeat(8);
    writeFileSync(rootfs, Buffer.from(text, "latin1"));
  }
  const aliases = opts.alias ? [{ name: opts.alias, description: "" }] : [];
  const res = await store.import(src(files.metadata), src(rootfs), {
    public: opts.public,
    aliases,
  });
  return res.image;
}

export async function makeServeFixture(): Promise<ServeFixture> {
  const t = tempDir("imago-serve-");
  const store = await Store.open(join(t.path, "store"));
  const d = t.path;
  const fx: ServeFixture = {
    store,
    dir: d,
    pubUnified: await addUnified(store, d, "pub-u", {
      public: true,
      alias: "pub-unified",
      spec: { properties: props("testos", "u1", "Public unified") },
    }),
    pubSplit: await addSplit(store, d, "pub-s", {
      public: true,
      alias: "pub-split",
      spec: { properties: props("testos", "s1", "Public split") },
    }),
    pubVm: await addSplit(store, d, "pub-vm", {
      public: true,
      alias: "pub-vm",
      vm: true,
      spec: { properties: props("testos", "vm1", "Public VM") },
    }),
    pubArm: await addUnified(store, d, "pub-arm", {
      public: true,
      alias: "pub-unified/arm64",
      spec: { architecture: "aarch64", properties: props("testos", "u1", "Public unified arm") },
    }),
    privUnified: await addUnified(store, d, "priv-u", {
      public: false,
      alias: "priv-unified",
      spec: { properties: props("secretos", "p1", "Private unified") },
    }),
    privSplit: await addSplit(store, d, "priv-s", {
      public: false,
      alias: "priv-split",
      spec: { properties: props("secretos", "p2", "Private split") },
    }),
    cleanup() {
      store.close();
      t.cleanup();
    },
  };
  return fx;
}
