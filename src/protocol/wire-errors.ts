import { headers as natsHeaders, type Msg, type MsgHdrs } from "@nats-io/nats-core";
import { ErrorKind, isErrorKind, PurserError } from "../errors/errdefs.js";

/**
 * The one place errors cross the wire. A failed request is answered with an
 * empty body and the NATS services headers `Nats-Service-Error` (the full
 * containerd-style text) and `Nats-Service-Error-Code` (an HTTP-like number, as
 * the services framework expects), plus `Purser-Error-Class` with the
 * containerd class, so any client can rebuild the typed error.
 */
export const ErrorClassHeader = "Purser-Error-Class";
export const ServiceErrorHeader = "Nats-Service-Error";
export const ServiceErrorCodeHeader = "Nats-Service-Error-Code";

export const errorCodes: Record<ErrorKind, number> = {
  InvalidArgument: 400,
  NotFound: 404,
  AlreadyExists: 409,
  PermissionDenied: 403,
  FailedPrecondition: 412,
  OutOfRange: 416,
  Unknown: 500,
  NotImplemented: 501,
  Unavailable: 503,
  ResourceExhausted: 507,
};

const kindByCode = new Map<number, ErrorKind>(
  Object.entries(errorCodes).map(([k, code]) => [code, k as ErrorKind]),
);

export function errorHeaders(err: PurserError): MsgHdrs {
  const h = natsHeaders();
  // Header values cannot carry line breaks.
  h.set(ServiceErrorHeader, err.message.replace(/[\r\n]+/g, " "));
  h.set(ServiceErrorCodeHeader, String(errorCodes[err.kind]));
  h.set(ErrorClassHeader, err.kind);
  return h;
}

/** The typed error carried by a reply, or undefined when the reply is a success. */
export function errorFromReply(msg: Msg): PurserError | undefined {
  const h = msg.headers;
  const text = h?.get(ServiceErrorHeader);
  if (!h || !text) return undefined;
  const cls = h.get(ErrorClassHeader);
  const code = Number(h.get(ServiceErrorCodeHeader));
  const kind: ErrorKind = isErrorKind(cls) ? cls : (kindByCode.get(code) ?? ErrorKind.Unknown);
  return PurserError.fromMessage(kind, text);
}
