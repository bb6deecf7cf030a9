import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { ErrorKind, type PurserError } from "../errors/errdefs.js";

/**
 * containerd `errdefs.ToGRPC`: each class has its gRPC code, and the
 * message is the whole text (`<context>: <class>`): containerd's client
 * (`errdefs.FromGRPC`) takes the class from the code and strips the class
 * text from the message before wrapping it again, so ctr prints exactly what
 * containerd would.
 */
const codeOf: Record<ErrorKind, status> = {
  Unknown: status.UNKNOWN,
  InvalidArgument: status.INVALID_ARGUMENT,
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  FailedPrecondition: status.FAILED_PRECONDITION,
  Unavailable: status.UNAVAILABLE,
  NotImplemented: status.UNIMPLEMENTED,
  OutOfRange: status.OUT_OF_RANGE,
  PermissionDenied: status.PERMISSION_DENIED,
  ResourceExhausted: status.RESOURCE_EXHAUSTED,
};

export function toGrpcError(err: PurserError): ServiceError {
  const e = new Error(err.message) as ServiceError;
  e.code = codeOf[err.kind];
  e.details = err.message;
  e.metadata = new Metadata();
  return e;
}

export { ErrorKind };
