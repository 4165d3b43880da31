/**
 * Stopping a long command cleanly on Ctrl-C or SIGTERM: the command's work gets an AbortSignal,
 * so core code can remove what it half wrote, and the command then fails with an
 * InterruptedError (exit 130 or 143). A second signal while cleaning up ends the process at once.
 */
import process from "node:process";
import { InterruptedError } from "../core/errors.ts";

const SIGNALS = { SIGINT: 2, SIGTERM: 15 } as const;
type SignalName = keyof typeof SIGNALS;

/** Runs `fn` with a signal that SIGINT and SIGTERM abort; `action` leads the error message. */
export async function untilSignalled<T>(
  action: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const names = Object.keys(SIGNALS) as SignalName[];
  const off = () => names.forEach((n) => process.off(n, on));
  const on = (sig: SignalName) => {
    if (controller.signal.aborted) {
      // Cleaning up hangs: let the default action of the signal end the process.
      off();
      process.kill(process.pid, sig);
      return;
    }
    controller.abort(new InterruptedError(`${action}: interrupted by ${sig}`, 128 + SIGNALS[sig]));
  };
  names.forEach((n) => process.on(n, on));
  try {
    return await fn(controller.signal);
  } catch (err) {
    // A program killed by the same Ctrl-C may fail first: the interruption is the reason.
    throw controller.signal.aborted ? controller.signal.reason : err;
  } finally {
    off();
  }
}
