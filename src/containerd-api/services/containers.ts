import type { ServerWritableStream } from "@grpc/grpc-js";
import type { ContainerRecord } from "../../events/container-events.js";
import { containerMessage, containerPayload, maskPaths, type ContainerMessage } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

const none: ContainerMessage = { id: "", labels: {}, image: "", runtime: null, spec: null, snapshotter: "", snapshotKey: "", extensions: {} };

/** `containerd.services.containers.v1.Containers`: purser's containers commands and queries in the call's namespace. */
export function containersService(calls: PurserCalls): Record<string, UnaryHandler> {
  return {
    async get(call) {
      const { result } = await calls.runInCallNamespace<ContainerRecord>(call.metadata, "containers", "get", { id: call.request.id });
      return { container: containerMessage(result) };
    },
    async list(call) {
      const ns = calls.namespaceOf(call.metadata);
      const containers = await calls.listAll<ContainerRecord>(call.metadata, "containers", ns, call.request.filters);
      return { containers: containers.map(containerMessage) };
    },
    async create(call) {
      const { result } = await calls.runInCallNamespace<ContainerRecord>(call.metadata, "containers", "create", containerPayload(call.request.container ?? none));
      return { container: containerMessage(result) };
    },
    async update(call) {
      const payload = { ...containerPayload(call.request.container ?? none), fieldPaths: maskPaths(call.request.updateMask) };
      const { result } = await calls.runInCallNamespace<ContainerRecord>(call.metadata, "containers", "update", payload);
      return { container: containerMessage(result) };
    },
    async delete(call) {
      await calls.runInCallNamespace(call.metadata, "containers", "delete", { id: call.request.id });
      return {};
    },
  };
}

/** `ListStream`: the list, one container per message (containerd's client tries it first). */
export async function listContainersStream(calls: PurserCalls, call: ServerWritableStream<any, any>): Promise<void> {
  const ns = calls.namespaceOf(call.metadata);
  const containers = await calls.listAll<ContainerRecord>(call.metadata, "containers", ns, call.request.filters);
  for (const c of containers) call.write({ container: containerMessage(c) });
}
