import type { LeaseRecord, LeaseResource } from "../../events/lease-events.js";
import { leaseMessage } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/** `containerd.services.leases.v1.Leases`: purser's leases commands and queries in the call's namespace. */
export function leasesService(calls: PurserCalls): Record<string, UnaryHandler> {
  return {
    async create(call) {
      const ns = calls.namespaceOf(call.metadata);
      const { result } = await calls.run<LeaseRecord>(call.metadata, "leases", "create", ns, { id: call.request.id, labels: call.request.labels });
      return { lease: leaseMessage(result) };
    },
    async delete(call) {
      const ns = calls.namespaceOf(call.metadata);
      await calls.run(call.metadata, "leases", "delete", ns, { id: call.request.id, sync: call.request.sync });
      return {};
    },
    async list(call) {
      const ns = calls.namespaceOf(call.metadata);
      const { result } = await calls.run<LeaseRecord[]>(call.metadata, "leases", "list", ns, { filters: call.request.filters });
      return { leases: result.map(leaseMessage) };
    },
    async addResource(call) {
      const ns = calls.namespaceOf(call.metadata);
      const r = call.request.resource ?? { id: "", type: "" };
      await calls.run(call.metadata, "leases", "add-resource", ns, { id: call.request.id, resource: { id: r.id, type: r.type } });
      return {};
    },
    async deleteResource(call) {
      const ns = calls.namespaceOf(call.metadata);
      const r = call.request.resource ?? { id: "", type: "" };
      await calls.run(call.metadata, "leases", "delete-resource", ns, { id: call.request.id, resource: { id: r.id, type: r.type } });
      return {};
    },
    async listResources(call) {
      const ns = calls.namespaceOf(call.metadata);
      const { result } = await calls.run<LeaseResource[]>(call.metadata, "leases", "resources", ns, { id: call.request.id });
      return { resources: result.map((r) => ({ id: r.id, type: r.type })) };
    },
  };
}
