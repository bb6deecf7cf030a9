/** Structured logs: one JSON object per line on stderr. */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
export type LogLevel = keyof typeof LogLevel;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

export class JsonLogger implements Logger {
  constructor(
    private readonly level: LogLevel = "info",
    private readonly base: Record<string, unknown> = {},
    private readonly write: (line: string) => void = (line) => process.stderr.write(line + "\n"),
  ) {}

  private log(level: Exclude<LogLevel, "silent">, msg: string, fields?: Record<string, unknown>): void {
    if (LogLevel[level] < LogLevel[this.level]) return;
    const record: Record<string, unknown> = { time: new Date().toISOString(), level, msg, ...this.base };
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = errorFields(v);
    this.write(JSON.stringify(record));
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return new JsonLogger(this.level, { ...this.base, ...fields }, this.write);
  }
}

export const silentLogger: Logger = new JsonLogger("silent");
