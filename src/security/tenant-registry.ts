import { readFileSync } from "node:fs";
import { alreadyExists, notFound } from "../errors/errdefs.js";
import type { TenantRecord } from "../protocol/tenants.js";
import { writeSecretFile } from "./secret-files.js";

export type { TenantRecord };

/**
 * The tenants the embedded nats-server admits, kept in one file of the data
 * directory (mode 0600). It is host configuration, as nats.conf is, not
 * containerd metadata: it is not in the log (docs/decisions.md).
 */
export class TenantRegistry {
  private tenants: TenantRecord[];

  constructor(private readonly file: string) {
    this.tenants = TenantRegistry.load(file);
  }

  private static load(file: string): TenantRecord[] {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const parsed = JSON.parse(text) as { tenants?: TenantRecord[] };
    return Array.isArray(parsed.tenants) ? parsed.tenants : [];
  }

  list(): TenantRecord[] {
    return [...this.tenants].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Adds `tenant`; returns the registry as it was, for {@link restore} if applying it fails. */
  add(tenant: TenantRecord): TenantRecord[] {
    if (this.tenants.some((t) => t.name === tenant.name)) throw alreadyExists(`tenant ${JSON.stringify(tenant.name)}`);
    if (this.tenants.some((t) => t.publicKey === tenant.publicKey)) throw alreadyExists(`a tenant with public key ${tenant.publicKey}`);
    const before = this.tenants;
    this.tenants = [...before, tenant];
    this.save();
    return before;
  }

  remove(name: string): TenantRecord[] {
    const before = this.tenants;
    if (!before.some((t) => t.name === name)) throw notFound(`tenant ${JSON.stringify(name)}`);
    this.tenants = before.filter((t) => t.name !== name);
    this.save();
    return before;
  }

  restore(tenants: TenantRecord[]): void {
    this.tenants = tenants;
    this.save();
  }

  private save(): void {
    writeSecretFile(this.file, `${JSON.stringify({ tenants: this.tenants }, null, 2)}\n`);
  }
}
