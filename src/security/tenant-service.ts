import { fromPublic } from "@nats-io/nkeys";
import type { Clock } from "../commands/command-runner.js";
import { inject, injectable } from "../di.js";
import { Tokens } from "../tokens.js";
import { type Payload, requiredString, stringList } from "../commands/payload.js";
import { EndpointKind, EndpointScope, type Endpoint } from "../endpoints/endpoint.js";
import { failedPrecondition, invalidArgument } from "../errors/errdefs.js";
import { requireNamespace } from "../validation/namespace.js";
import { requireTenantName, tenantInboxPrefix } from "./permissions.js";
import type { TenantInfo, TenantRecord } from "../protocol/tenants.js";

/** Who admits tenants to NATS: the embedded nats-server's configuration (server/embedded-auth.ts). */
export interface TenantAuthority {
  tenants(): TenantRecord[];
  addTenant(tenant: TenantRecord): Promise<void>;
  removeTenant(name: string): Promise<void>;
}

/**
 * `purser.v1._global.tenants.add|list|remove`: global endpoints, which only
 * the admin identity may reach (tenants are denied `purser.v1._global.>`).
 * The seed never crosses the wire: the CLI generates the key pair and sends
 * the public key. With an operator's own NATS (`--server`) purser cannot
 * change who it admits: these answer FailedPrecondition, and
 * docs/security.md shows the permissions to grant instead.
 */
@injectable()
export class TenantService {
  constructor(
    @inject(Tokens.TenantAuthority) private readonly authority: TenantAuthority,
    @inject(Tokens.Clock) private readonly clock: Clock,
  ) {}

  endpoints(): Endpoint[] {
    const endpoint = (verb: string, run: (p: Payload) => Promise<unknown>): Endpoint => ({
      resource: "tenants",
      verb,
      scope: EndpointScope.Global,
      kind: EndpointKind.System,
      run: async (_ctx, p) => ({ rv: 0, result: await run(p) }),
    });
    return [endpoint("add", (p) => this.add(p)), endpoint("list", async () => this.list()), endpoint("remove", (p) => this.remove(p))];
  }

  async add(p: Payload): Promise<TenantInfo> {
    const authority = this.authority;
    const name = requireTenantName(p.name);
    const publicKey = requiredString(p, "publicKey");
    try {
      if (!publicKey.startsWith("U")) throw new Error("not a user key");
      fromPublic(publicKey);
    } catch {
      throw invalidArgument(`publicKey ${JSON.stringify(publicKey)} is not an nkey user public key`);
    }
    const namespaces = [...new Set(stringList(p, "namespaces"))].sort();
    if (namespaces.length === 0) throw invalidArgument("a tenant needs at least one namespace");
    for (const ns of namespaces) requireNamespace(ns);
    const record: TenantRecord = { name, publicKey, namespaces, created: this.clock.now().toISOString() };
    await authority.addTenant(record);
    return info(record);
  }

  list(): TenantInfo[] {
    return this.authority.tenants().map(info);
  }

  async remove(p: Payload): Promise<{ name: string }> {
    const name = requireTenantName(p.name);
    await this.authority.removeTenant(name);
    return { name };
  }
}

function info(t: TenantRecord): TenantInfo {
  return { ...t, inboxPrefix: tenantInboxPrefix(t.name) };
}

/** With an operator's own NATS: purser cannot change who the server admits. */
export const noTenantAuthority: TenantAuthority = {
  tenants: () => refuse(),
  addTenant: async () => refuse(),
  removeTenant: async () => refuse(),
};

function refuse(): never {
  throw failedPrecondition("tenants are admitted by the embedded nats-server's configuration; with --server, grant the permissions of docs/security.md in your NATS server instead");
}
