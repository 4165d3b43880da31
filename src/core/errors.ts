/**
 * One error family for imago. Core code throws these; the CLI turns one into a stderr line and
 * an exit code, the server into an LXD error envelope with an HTTP status. Nothing else prints.
 * Messages quote URLs, so download secrets in them are masked here, once for every error.
 */

/** `text` with the value of every `secret=` URL parameter (LXD download secrets) as `***`. */
export function redactSecrets(text: string): string {
  return text.replace(/([?&]secret=)[^&#\s"']+/gi, "$1***");
}

/** Base of every expected failure: carries the exit code and HTTP status it maps to. */
export class ImagoError extends Error {
  readonly exitCode: number = 1;
  readonly status: number = 500;
  constructor(message: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options);
    this.name = new.target.name;
  }
}

/** The caller asked for something malformed (bad flag, bad argument). */
export class UsageError extends ImagoError {
  override readonly exitCode = 2;
  override readonly status = 400;
}

/** Input that is not acceptable (bad image file, bad YAML edit, bad header). */
export class InvalidInputError extends ImagoError {
  override readonly status = 400;
}

/** The named image, alias, remote or file does not exist. */
export class NotFoundError extends ImagoError {
  override readonly status = 404;
}

/** Something with that name or fingerprint exists already. */
export class ConflictError extends ImagoError {
  override readonly status = 409;
}

/** A fingerprint prefix matched more than one image. */
export class AmbiguousRefError extends ImagoError {
  readonly candidates: string[];
  constructor(ref: string, candidates: string[]) {
    super(
      `Cannot resolve "${ref}": more than one image matches: ${candidates.join(", ")}; ` +
        `give more characters of the fingerprint`,
    );
    this.candidates = candidates;
  }
}

/** Bytes did not hash to what was expected. */
export class IntegrityError extends ImagoError {
  readonly expected: string;
  readonly actual: string;
  constructor(what: string, expected: string, actual: string) {
    super(`${what}: sha256 mismatch: expected ${expected}, got ${actual}`);
    this.expected = expected;
    this.actual = actual;
  }
}

/** metadata.yaml (or an edited YAML document) is unusable; names file, line and column. */
export class MetadataError extends ImagoError {
  override readonly status = 400;
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  constructor(file: string, detail: string, line?: number, column?: number) {
    super(`${file}${line ? ` line ${line}${column ? `, column ${column}` : ""}` : ""}: ${detail}`);
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** A remote server misbehaved or could not be reached. */
export class RemoteError extends ImagoError {
  override readonly status: number = 502;
  constructor(message: string, options?: { cause?: unknown; timeout?: boolean }) {
    super(message, options);
    if (options?.timeout) this.status = 504;
  }
}

/** A plugin failed to load or broke its contract. */
export class PluginError extends ImagoError {}

/** The user stopped the command with a signal; exits 128 + the signal's number, as shells do. */
export class InterruptedError extends ImagoError {
  override readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** The caller is not allowed to do this (server side: untrusted client). */
export class ForbiddenError extends ImagoError {
  override readonly status = 403;
}

/** Prefix a message with the action that failed, keeping the error's class and cause. */
export function annotate<E extends Error>(err: E, action: string): E {
  err.message = redactSecrets(`${action}: ${err.message}`);
  return err;
}
