import type { TenantInfo } from "../protocol/tenants.js";
import type { PurserClient } from "./purser-client.js";

export type { TenantInfo };

/**
 * Tenants of the embedded nats-server (docs/security.md), for the admin
 * identity only. The caller keeps the seed; only the public key is sent.
 */
export class TenantsApi {
  constructor(private readonly client: PurserClient) {}

  add(name: string, publicKey: string, namespaces: readonly string[]) {
    return this.client.globalQuery<TenantInfo>("tenants", "add", { name, publicKey, namespaces: [...namespaces] }, { timeoutMs: 15_000 });
  }

  list() {
    return this.client.globalQuery<TenantInfo[]>("tenants", "list");
  }

  remove(name: string) {
    return this.client.globalQuery<{ name: string }>("tenants", "remove", { name }, { timeoutMs: 15_000 });
  }
}
