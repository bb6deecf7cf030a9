import { status, type sendUnaryData, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";

/**
 * A service purser does not provide (tasks: purser is a metadata store, it
 * runs nothing): every method answers Unimplemented, saying why, instead of
 * grpc's bare "method not implemented".
 */
export function unimplementedService(definition: ServiceDefinition, why: string): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition)) {
    const fail = { code: status.UNIMPLEMENTED, details: `${method.path.slice(1)}: ${why}: not implemented` };
    out[name] = method.responseStream || method.requestStream
      ? (call: { emit: (e: string, v: unknown) => void; destroy?: (e: Error) => void }) => call.emit("error", fail)
      : (_call: unknown, callback: sendUnaryData<unknown>) => callback(fail);
  }
  return out;
}
