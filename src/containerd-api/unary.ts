import type { sendUnaryData, ServerUnaryCall, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import { toPurserError } from "../endpoints/failure.js";
import type { Logger } from "../observability/logger.js";
import { ErrorKind } from "../errors/errdefs.js";
import { toGrpcError } from "./grpc-errors.js";

/** A handler of one unary method: the request message in, the response message out. */
export type UnaryHandler = (call: ServerUnaryCall<any, any>) => Promise<unknown>;

/**
 * A service's unary methods as grpc-js handlers: every failure becomes
 * containerd's status for its class (never a crash, never a hang); a
 * failure of class Unknown is logged, as the NATS front logs it.
 */
export function unaryMethods(handlers: Record<string, UnaryHandler>, log: Logger, service: string): UntypedServiceImplementation {
  const out: Record<string, UntypedHandleCall> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    out[name] = (call: ServerUnaryCall<any, any>, callback: sendUnaryData<any>) => {
      handler(call).then(
        (response) => callback(null, response ?? {}),
        (err: unknown) => callback(grpcFailure(err, log, `${service}/${name}`)),
      );
    };
  }
  return out;
}

export function grpcFailure(err: unknown, log: Logger, method: string) {
  const error = toPurserError(err);
  if (error.kind === ErrorKind.Unknown) log.error("containerd api call failed", { method, err });
  return toGrpcError(error);
}
