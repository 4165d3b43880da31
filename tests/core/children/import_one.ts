// Child process for store tests: imports argv[3] (and argv[4]) into the store at argv[2].
import { Store } from "../../../src/core/store.ts";
import { fileStream } from "../../../src/core/streams.ts";

const [dir, meta, root] = process.argv.slice(2);
const store = await Store.open(dir);
const res = await store.import(
  { stream: fileStream(meta), name: meta },
  root ? { stream: fileStream(root), name: root } : undefined,
  { aliases: [{ name: "shared", description: "" }] },
);
console.log(JSON.stringify({ fingerprint: res.image.fingerprint, created: res.created }));
store.close();
