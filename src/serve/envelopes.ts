/** LXD's response envelopes (sync and error), as `lxc` and the LXD daemon parse them. */

/** Default error texts LXD uses for bare status codes. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: "bad request",
  403: "not authorized",
  404: "not found",
  405: "method not allowed",
  409: "already exists",
  414: "request URI too long",
  416: "requested range not satisfiable",
  500: "internal server error",
  501: "not implemented",
};

export interface SyncEnvelope<T> {
  type: "sync";
  status: "Success";
  status_code: 200;
  operation: "";
  error_code: 0;
  error: "";
  metadata: T;
}

export interface ErrorEnvelope {
  type: "error";
  status: "";
  status_code: 0;
  operation: "";
  error_code: number;
  error: string;
  metadata: null;
}

export function syncEnvelope<T>(metadata: T): SyncEnvelope<T> {
  return {
    type: "sync",
    status: "Success",
    status_code: 200,
    operation: "",
    error_code: 0,
    error: "",
    metadata,
  };
}

/** syncEnvelope's JSON around `metadataJson`, metadata already serialised (e.g. by SQLite). */
export function syncEnvelopeJson(metadataJson: string): string {
  const shell = JSON.stringify(syncEnvelope(null));
  // The shell ends with the metadata's `null}`: splice the given JSON in its place.
  return `${shell.slice(0, -"null}".length)}${metadataJson}}`;
}

export function errorEnvelope(code: number, message?: string): ErrorEnvelope {
  return {
    type: "error",
    status: "",
    status_code: 0,
    operation: "",
    error_code: code,
    error: message || STATUS_TEXT[code] || "error",
    metadata: null,
  };
}

const JSON_HEADERS = { "Content-Type": "application/json" };

/** A 200 sync answer carrying `metadata`. */
export function syncResponse(metadata: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(syncEnvelope(metadata)), {
    status: 200,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

/** An LXD error answer: the HTTP status equals error_code, as the client expects. */
export function errorResponse(code: number, message?: string): Response {
  return new Response(JSON.stringify(errorEnvelope(code, message)), {
    status: code,
    headers: { ...JSON_HEADERS, "X-Content-Type-Options": "nosniff" },
  });
}
