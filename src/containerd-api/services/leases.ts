import type { LeaseRecord, LeaseResource } from "../../events/lease-events.js";
import { leaseMessage } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/** `containerd.services.leases.v1.Leases`: purser's leases commands and queries in the call's namespace. */
export function leasesService(calls: PurserCalls): Record<string, UnaryHandler> {
  return {
    async create(call) {
      const { result } = await calls.runInCallNamespace<LeaseRecord>(call.metadata, "leases", "create", { id: call.request.id, labels: call.request.labels });
      return { lease: leaseMessage(result) };
    },
    async delete(call) {
      await calls.runInCallNamespace(call.metadata, "leases", "delete", { id: call.request.id, sync: call.request.sync });
      return {};
    },
    async list(call) {
      const { result } = await calls.runInCallNamespace<LeaseRecord[]>(call.metadata, "leases", "list", { filters: call.request.filters });
      return { leases: result.map(leaseMessage) };
    },
    async addResource(call) {
      const r = call.request.resource ?? { id: "", type: "" };
      await calls.runInCallNamespace(call.metadata, "leases", "add-resource", { id: call.request.id, resource: { id: r.id, type: r.type } });
      return {};
    },
    async deleteResource(call) {
      const r = call.request.resource ?? { id: "", type: "" };
      await calls.runInCallNamespace(call.metadata, "leases", "delete-resource", { id: call.request.id, resource: { id: r.id, type: r.type } });
      return {};
    },
    async listResources(call) {
      const { result } = await calls.runInCallNamespace<LeaseResource[]>(call.metadata, "leases", "resources", { id: call.request.id });
      return { resources: result.map((r) => ({ id: r.id, type: r.type })) };
    },
  };
}
