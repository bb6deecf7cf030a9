import type { NamespaceRecord } from "../../events/namespace-events.js";
import { maskPaths, namespaceMessage } from "../messages.js";
import type { PurserCalls } from "../purser-calls.js";
import type { UnaryHandler } from "../unary.js";

/**
 * `containerd.services.namespaces.v1.Namespaces`: purser's namespaces
 * commands and queries (the namespace is the request's, not the metadata's).
 */
export function namespacesService(calls: PurserCalls): Record<string, UnaryHandler> {
  return {
    async get(call) {
      const { result } = await calls.run<NamespaceRecord>(call.metadata, "namespaces", "get", call.request.name, {});
      return { namespace: namespaceMessage(result) };
    },
    async list(call) {
      // containerd's namespaces List has a filter field and ignores it.
      const out: NamespaceRecord[] = [];
      let after: string | undefined;
      do {
        const { result } = await calls.run<{ items: NamespaceRecord[]; next?: string }>(call.metadata, "namespaces", "list", "", after === undefined ? {} : { after });
        out.push(...result.items);
        after = result.next;
      } while (after !== undefined);
      return { namespaces: out.map(namespaceMessage) };
    },
    async create(call) {
      const n = call.request.namespace ?? { name: "", labels: {} };
      const { result } = await calls.run<NamespaceRecord>(call.metadata, "namespaces", "create", n.name, { labels: n.labels });
      return { namespace: namespaceMessage(result) };
    },
    async update(call) {
      const n = call.request.namespace ?? { name: "", labels: {} };
      const { result } = await calls.run<NamespaceRecord>(call.metadata, "namespaces", "update", n.name, { labels: n.labels, fieldPaths: maskPaths(call.request.updateMask) });
      return { namespace: namespaceMessage(result) };
    },
    async delete(call) {
      await calls.run(call.metadata, "namespaces", "delete", call.request.name, {});
      return {};
    },
  };
}
