/**
 * The one error type of purser, with containerd's error classes and wording
 * (containerd 1.6 `errdefs`, plus `OutOfRange` from the v2 module, which the
 * content store needs for `write @N must occur at current offset M`, and
 * `PermissionDenied` from the same module, for what NATS refuses an identity:
 * docs/security.md, and `ResourceExhausted`, for a full disk).
 *
 * containerd builds messages as `fmt.Errorf("<context>: %w", errdefs.ErrX)`, so
 * the text a user sees ends in `: <class text>`. `PurserError.message` is that
 * full text; `detail` is the context without the class suffix.
 */
export const ErrorKind = {
  Unknown: "Unknown",
  InvalidArgument: "InvalidArgument",
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  FailedPrecondition: "FailedPrecondition",
  Unavailable: "Unavailable",
  NotImplemented: "NotImplemented",
  OutOfRange: "OutOfRange",
  PermissionDenied: "PermissionDenied",
  ResourceExhausted: "ResourceExhausted",
} as const;
export type ErrorKind = (typeof ErrorKind)[keyof typeof ErrorKind];

/** The text containerd appends for each class (`errdefs.ErrX.Error()`). */
export const classText: Record<ErrorKind, string> = {
  Unknown: "unknown",
  InvalidArgument: "invalid argument",
  NotFound: "not found",
  AlreadyExists: "already exists",
  FailedPrecondition: "failed precondition",
  Unavailable: "unavailable",
  NotImplemented: "not implemented",
  OutOfRange: "out of range",
  PermissionDenied: "permission denied",
  ResourceExhausted: "resource exhausted",
};

export function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(classText, value);
}

export class PurserError extends Error {
  override readonly name = "PurserError";
  /** The containerd error class. */
  readonly kind: ErrorKind;
  /** The context part of the message, without the trailing class text. */
  readonly detail: string;

  constructor(kind: ErrorKind, detail: string, options?: { cause?: unknown }) {
    super(PurserError.compose(kind, detail), options);
    this.kind = kind;
    this.detail = detail;
  }

  /** `<detail>: <class text>`, or the bare class text when there is no detail. */
  static compose(kind: ErrorKind, detail: string): string {
    return detail === "" ? classText[kind] : `${detail}: ${classText[kind]}`;
  }

  /**
   * Rebuilds an error from a full wire message, stripping the class suffix as
   * containerd's `FromGRPC`/`rebaseMessage` does so it is not duplicated.
   */
  static fromMessage(kind: ErrorKind, message: string): PurserError {
    const suffix = classText[kind];
    if (message === suffix) return new PurserError(kind, "");
    const tail = `: ${suffix}`;
    const detail = message.endsWith(tail) ? message.slice(0, -tail.length) : message;
    return new PurserError(kind, detail);
  }

  /** Prefixes more context, as `fmt.Errorf("<context>: %w", err)` does. */
  wrap(context: string): PurserError {
    return new PurserError(this.kind, this.detail === "" ? context : `${context}: ${this.detail}`, { cause: this });
  }
}

export const invalidArgument = (detail: string) => new PurserError(ErrorKind.InvalidArgument, detail);
export const notFound = (detail: string) => new PurserError(ErrorKind.NotFound, detail);
export const alreadyExists = (detail: string) => new PurserError(ErrorKind.AlreadyExists, detail);
export const failedPrecondition = (detail: string) => new PurserError(ErrorKind.FailedPrecondition, detail);
export const unavailable = (detail: string) => new PurserError(ErrorKind.Unavailable, detail);
export const notImplemented = (detail: string) => new PurserError(ErrorKind.NotImplemented, detail);
export const outOfRange = (detail: string) => new PurserError(ErrorKind.OutOfRange, detail);
export const permissionDenied = (detail: string) => new PurserError(ErrorKind.PermissionDenied, detail);
export const resourceExhausted = (detail: string) => new PurserError(ErrorKind.ResourceExhausted, detail);
export const unknownError = (detail: string) => new PurserError(ErrorKind.Unknown, detail);

export function isPurserError(err: unknown, kind?: ErrorKind): err is PurserError {
  return err instanceof PurserError && (kind === undefined || err.kind === kind);
}
