// One structured logger for the whole app. Fields are data (run id, entity, window, counts,
// Graph request-id); callers must never pass a token, secret or message body.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds these fields to every line. */
  child(fields: LogFields): Logger;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values are replaced before a line is written, as a second line of defence. */
const SECRET_FIELD = /secret|token|password|authorization|credential|accountkey|sig$/i;

export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : v;
  return out;
}

export type LogSink = (level: LogLevel, message: string, fields: LogFields) => void;

/** Builds a logger over a sink (console, Functions InvocationContext, a test array). */
export function createLogger(sink: LogSink, minLevel: LogLevel = 'info', base: LogFields = {}): Logger {
  const write =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}) => {
      if (ORDER[level] >= ORDER[minLevel]) sink(level, message, redact({ ...base, ...fields }));
    };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (fields) => createLogger(sink, minLevel, { ...base, ...fields }),
  };
}

/** JSON lines on stderr: machine-readable and never mixed into a command's stdout. */
export const jsonStderrSink: LogSink = (level, message, fields) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
};

export const silentLogger: Logger = createLogger(() => undefined, 'error');
