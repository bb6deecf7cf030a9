/** A tenant: an nkey user confined to its namespaces (docs/security.md). */
export interface TenantRecord {
  name: string;
  publicKey: string;
  namespaces: string[];
  created: string;
}

/** A tenant as `tenants.add|list` answer it: what its holder needs to connect. */
export interface TenantInfo extends TenantRecord {
  /** Its replies' prefix: the only inbox it may subscribe to. */
  inboxPrefix: string;
}
