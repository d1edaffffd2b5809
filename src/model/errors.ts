// Reading unknown errors, in one place: the HTTP status an Azure SDK error carries, and the text an
// error is logged and recorded with.

/** The HTTP status of an Azure SDK (storage) error, or undefined for anything else. */
export function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/**
 * The text of any thrown value, for logs, job records and stderr: an Error's message, prefixed with its
 * class when that says something (`RestError: …`, `AbortError: …`, not `Error: …`); anything else as a string.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
}
