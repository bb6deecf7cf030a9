import { readFileSync } from "node:fs";
import { unavailable } from "../errors/errdefs.js";
import { join } from "node:path";
import { ensureIdentity, type Identity } from "../security/identity-files.js";
import { privateDir, writeSecretFile } from "../security/secret-files.js";
import { renderAuthorization, type NkeyUser } from "../security/nats-auth-config.js";
import { adminPermissions, servicePermissions, tenantPermissions } from "../security/permissions.js";
import { TenantRegistry, type TenantRecord } from "../security/tenant-registry.js";
import type { TenantAuthority } from "../security/tenant-service.js";

/**
 * Authorization of the embedded nats-server (docs/security.md): the service
 * and admin identities (generated on first start under
 * `<data>/identities`, 0700/0600), the tenants' nkeys and permissions, and
 * the configuration file nats-server runs with: infra/nats.conf plus the
 * `authorization` block. Adding or removing a tenant rewrites the file and
 * reloads the server; if the reload fails, the previous tenants come back.
 */
export class EmbeddedAuth implements TenantAuthority {
  readonly service: Identity;
  readonly admin: Identity;
  readonly configFile: string;
  private readonly registry: TenantRegistry;
  private reloader?: () => Promise<void>;

  constructor(
    dataDir: string,
    private readonly baseConfigFile: string,
    private readonly storeDir: string,
  ) {
    const dir = privateDir(join(dataDir, "identities"));
    this.service = ensureIdentity(dir, "service");
    this.admin = ensureIdentity(dir, "admin");
    this.registry = new TenantRegistry(join(dir, "tenants.json"));
    this.configFile = join(dir, "nats-server.conf");
  }

  /** Writes the configuration nats-server is (re)started or reloaded with. */
  writeConfig(): string {
    const base = readFileSync(this.baseConfigFile, "utf8");
    // A reload compares the store directory with the running one: it must be in the file, not on the command line.
    if (!/^jetstream\s*\{/m.test(base)) throw new Error(`${this.baseConfigFile} has no jetstream { } block`);
    const withStore = base.replace(/^jetstream\s*\{/m, `jetstream {\n  store_dir: ${JSON.stringify(this.storeDir)}`);
    writeSecretFile(this.configFile, `${withStore}\n# Written by purser serve from its identities and tenants (docs/security.md).\n${renderAuthorization(this.users())}`);
    return this.configFile;
  }

  /** How to make the running nats-server read the file again. */
  reloadWith(reload: () => Promise<void>): void {
    this.reloader = reload;
  }

  users(): NkeyUser[] {
    return [
      { name: "purser service", publicKey: this.service.publicKey, permissions: servicePermissions() },
      { name: "purser admin", publicKey: this.admin.publicKey, permissions: adminPermissions() },
      ...this.registry.list().map((t) => ({ name: `tenant ${t.name}`, publicKey: t.publicKey, permissions: tenantPermissions(t.name, t.namespaces) })),
    ];
  }

  tenants(): TenantRecord[] {
    return this.registry.list();
  }

  async addTenant(tenant: TenantRecord): Promise<void> {
    await this.applying(this.registry.add(tenant));
  }

  async removeTenant(name: string): Promise<void> {
    await this.applying(this.registry.remove(name));
  }

  private async applying(before: TenantRecord[]): Promise<void> {
    try {
      this.writeConfig();
      if (!this.reloader) throw new Error("the embedded nats-server is not running");
      await this.reloader();
    } catch (err) {
      this.registry.restore(before);
      this.writeConfig();
      throw unavailable(`nats-server did not take the new tenants: ${(err as Error).message}`);
    }
  }
}
