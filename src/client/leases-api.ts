import { randomLeaseId } from "../protocol/lease-id.js";
import type { LeaseRecord, LeaseResource } from "../events/lease-events.js";
import type { CommandOptions, PurserClient, QueryOptions } from "./purser-client.js";

export type { LeaseRecord, LeaseResource };

export interface LeaseCreateOptions {
  /** The lease id; generated as containerd's `WithRandomID` does when absent. */
  id?: string;
  labels?: Record<string, string>;
  /** Sets `containerd.io/gc.expire` to the server's now plus this (containerd's `WithExpiration`). */
  expiresInMs?: number;
}

/**
 * Leases of a namespace: containerd's leases service over purser's protocol
 * (docs/leases.md). A command sent with `CommandOptions.lease` records what it
 * creates in that lease.
 */
export class LeasesApi {
  constructor(private readonly client: PurserClient) {}

  /**
   * The id is chosen here when not given, so a retry with the same command id
   * names the same lease.
   */
  create(namespace: string, options: LeaseCreateOptions = {}, opts?: CommandOptions) {
    const payload = { id: options.id ?? randomLeaseId(), labels: options.labels ?? {}, expiresInMs: options.expiresInMs };
    return this.client.command<LeaseRecord>(namespace, "leases", "create", payload, opts);
  }

  /** `sync`: containerd's `SynchronousDelete`, wait for the collection the delete allows. */
  async delete(namespace: string, id: string, options: { sync?: boolean } = {}, opts?: CommandOptions) {
    const reply = await this.client.command<null>(namespace, "leases", "delete", { id, sync: options.sync ?? false }, opts);
    if (options.sync) await this.client.gc.collect();
    return reply;
  }

  /** containerd filters `id`, `labels.<k>`. */
  list(namespace: string, filters: string[] = [], opts?: QueryOptions) {
    return this.client.query<LeaseRecord[]>(namespace, "leases", "list", { filters }, opts);
  }

  addResource(namespace: string, id: string, resource: LeaseResource, opts?: CommandOptions) {
    return this.client.command<null>(namespace, "leases", "add-resource", { id, resource }, opts);
  }

  deleteResource(namespace: string, id: string, resource: LeaseResource, opts?: CommandOptions) {
    return this.client.command<null>(namespace, "leases", "delete-resource", { id, resource }, opts);
  }

  /** What the lease holds: content, then ingests, then snapshots (containerd's order). */
  resources(namespace: string, id: string, opts?: QueryOptions) {
    return this.client.query<LeaseResource[]>(namespace, "leases", "resources", { id }, opts);
  }
}
