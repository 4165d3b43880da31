/** The CLI's one logger: messages go to stderr, so stdout stays parseable command output. */

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** --verbose and --quiet win over IMAGO_LOG; an unknown IMAGO_LOG value means "info". */
export function logLevel(
  env: Record<string, string | undefined>,
  flags: { quiet?: boolean; verbose?: boolean },
): LogLevel {
  if (flags.verbose) return "debug";
  if (flags.quiet) return "error";
  const v = env.IMAGO_LOG?.toLowerCase();
  return v && v in RANK ? v as LogLevel : "info";
}

export function createLogger(write: (s: string) => void, level: LogLevel): Logger {
  const at = (l: LogLevel, prefix: string) => (msg: string) => {
    if (RANK[l] >= RANK[level]) write(`${prefix}${msg}\n`);
  };
  return {
    level,
    debug: at("debug", "Debug: "),
    info: at("info", ""),
    warn: at("warn", "Warning: "),
    error: at("error", "Error: "),
  };
}
