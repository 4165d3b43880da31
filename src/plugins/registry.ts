/** A registry of named plugins of one kind: duplicates are refused, unknown names listed. */
import { NotFoundError, PluginError } from "../core/errors.ts";

export class Registry<T extends { readonly name: string }> {
  readonly #what: string;
  readonly #items = new Map<string, { item: T; origin: string }>();

  /** `what` names the kind in messages, e.g. "compressor". */
  constructor(what: string) {
    this.#what = what;
  }

  /** Adds `item`; `origin` (a file or "built-in") is named if another claims the same name. */
  register(item: T, origin = "built-in"): void {
    const had = this.#items.get(item.name);
    if (had) {
      throw new PluginError(
        `Cannot register ${this.#what} "${item.name}" from ${origin}: ` +
          `already registered by ${had.origin}`,
      );
    }
    this.#items.set(item.name, { item, origin });
  }

  has(name: string): boolean {
    return this.#items.has(name);
  }

  /** The plugin called `name`; unknown names give an error listing the known ones. */
  get(name: string): T {
    const found = this.#items.get(name);
    if (!found) {
      throw new NotFoundError(
        `Unknown ${this.#what} "${name}": known are ${this.names().join(", ")}`,
      );
    }
    return found.item;
  }

  /** Where the plugin called `name` came from. */
  origin(name: string): string | undefined {
    return this.#items.get(name)?.origin;
  }

  names(): string[] {
    return [...this.#items.keys()].sort();
  }

  /** All plugins, sorted by name. */
  list(): T[] {
    return this.names().map((n) => this.#items.get(n)!.item);
  }
}
