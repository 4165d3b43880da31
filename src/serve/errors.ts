/**
 * The one place where errors become HTTP answers: an ImagoError's `status` and message go into
 * LXD's error envelope; anything else is a 500 "Internal error" (stack only under IMAGO_DEBUG).
 */
import { HTTPException } from "hono/http-exception";
import { ImagoError } from "../core/errors.ts";
import { errorResponse } from "./envelopes.ts";

/** A status with LXD's default text, e.g. 403 "not authorized". */
export class HttpError extends ImagoError {
  override readonly status: number;
  constructor(status: number, message?: string) {
    super(message ?? "");
    this.status = status;
  }
}

/** Turns any thrown value into an LXD error response. */
export function toErrorResponse(err: unknown): Response {
  if (err instanceof ImagoError) return errorResponse(err.status, err.message);
  if (err instanceof HTTPException) return errorResponse(err.status, err.message);
  const debug = typeof process !== "undefined" && process.env.IMAGO_DEBUG;
  const detail = debug && err instanceof Error ? `: ${err.stack ?? err.message}` : "";
  return errorResponse(500, `Internal error${detail}`);
}
