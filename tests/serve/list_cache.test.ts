import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { toApiImage } from "../../src/core/api_image.ts";
import { Store } from "../../src/core/store.ts";
import { ListCache } from "../../src/serve/list_cache.ts";
import { addUnified, makeServeFixture } from "./fixtures.ts";

/** What the cache must always equal: the store read from scratch, serialised. */
function expected(store: Store, trusted: boolean): string {
  const all = store.list().filter((r) => trusted || r.public);
  return JSON.stringify(all.map(toApiImage));
}

test("ListCache follows every kind of change made through another connection", async () => {
  const fx = await makeServeFixture();
  // The server's own connection, apart from the one the changes go through (like the CLI's).
  const served = await Store.open(join(fx.dir, "store"), { sweep: false });
  try {
    const cache = new ListCache(served);
    const check = (what: string) => {
      for (const trusted of [true, false]) {
        assert.equal(cache.apiJson(trusted), expected(fx.store, trusted), `${what}, ${trusted}`);
        assert.deepEqual(
          cache.list(trusted).map((r) => r.fingerprint),
          fx.store.list().filter((r) => trusted || r.public).map((r) => r.fingerprint),
        );
      }
    };
    check("at first");
    const fp = fx.pubUnified.fingerprint;
    fx.store.update(fp, { ...fx.store.get(fp)!, properties: { os: "changed" } });
    check("after a property edit");
    fx.store.update(fx.privUnified.fingerprint, { ...fx.privUnified, public: true });
    check("after a private image became public");
    fx.store.createAlias("new-alias", fp, "described");
    check("after an alias was added");
    fx.store.renameAlias("new-alias", "renamed-alias");
    check("after an alias was renamed");
    fx.store.setAlias("renamed-alias", fx.pubSplit.fingerprint);
    check("after an alias moved to another image");
    fx.store.deleteAlias("renamed-alias");
    check("after an alias was deleted");
    await addUnified(fx.store, fx.dir, "late", { public: true, alias: "late" });
    check("after an import");
    await fx.store.delete(fp);
    check("after a delete");
  } finally {
    served.close();
    fx.cleanup();
  }
});

test("ListCache re-reads only the images whose revision moved", async () => {
  const fx = await makeServeFixture();
  try {
    const cache = new ListCache(fx.store);
    cache.apiJson(true);
    const before = new Map(cache.list(true).map((r) => [r.fingerprint, r]));
    fx.store.createAlias("one-more", fx.pubArm.fingerprint);
    const after = cache.list(true);
    for (const r of after) {
      if (r.fingerprint === fx.pubArm.fingerprint) {
        assert.notEqual(r, before.get(r.fingerprint));
        assert.ok(r.aliases.some((a) => a.name === "one-more"));
      } else {
        assert.equal(r, before.get(r.fingerprint), `${r.fingerprint} was read again`);
      }
    }
  } finally {
    fx.cleanup();
  }
});

test("Store.open adds revision stamps to a store made before they existed", async () => {
  const fx = await makeServeFixture();
  const path = join(fx.dir, "store");
  const fps = fx.store.list().map((r) => r.fingerprint);
  // Back to the old shape: no rev column, no triggers, no counter.
  const db = new DatabaseSync(join(path, "imago.db"));
  for (const t of ["images_rev_insert", "images_rev_update", "aliases_rev_insert"]) {
    db.exec(`DROP TRIGGER ${t}`);
  }
  db.exec("DROP TRIGGER aliases_rev_update; DROP TRIGGER aliases_rev_delete");
  db.exec("DROP TABLE revision; ALTER TABLE images DROP COLUMN rev");
  db.close();
  const store = await Store.open(path, { sweep: false });
  try {
    assert.deepEqual(store.list().map((r) => r.fingerprint), fps);
    const cache = new ListCache(store);
    assert.equal(cache.apiJson(true), expected(store, true));
    store.createAlias("after-migration", fps[0]);
    assert.equal(cache.apiJson(true), expected(store, true));
    const revs = store.records.revisions();
    assert.ok(revs.find(([fp]) => fp === fps[0])![1] > 0);
  } finally {
    store.close();
    fx.cleanup();
  }
});
