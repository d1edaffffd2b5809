// Reading unknown errors, in one place: the HTTP status an Azure SDK error carries, and the text an
// error is logged and recorded with.

/** The HTTP status of an Azure SDK (storage) error, or undefined for anything else. */
export function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/** The text of any thrown value: an Error's message, anything else as a string. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
