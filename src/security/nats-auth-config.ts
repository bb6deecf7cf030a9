import type { Permissions } from "./permissions.js";

/** One NATS user of the embedded server: an nkey public key and what it may do. */
export interface NkeyUser {
  /** Who it is, written as a comment beside the entry (NATS has no name for an nkey user). */
  name: string;
  publicKey: string;
  permissions: Permissions;
}

/**
 * The `authorization` block of nats-server's configuration for `users`
 * (pure: the embedded server's file is the base configuration plus this).
 * Strings are JSON-quoted, which nats-server's configuration format reads
 * as literals (`$JS…` is not a variable there).
 */
export function renderAuthorization(users: readonly NkeyUser[]): string {
  const q = (s: string) => JSON.stringify(s);
  const list = (xs: readonly string[]) => `[${xs.map(q).join(", ")}]`;
  const rules = (r: { allow: string[]; deny?: string[] }) => `{ allow: ${list(r.allow)}${r.deny && r.deny.length > 0 ? `, deny: ${list(r.deny)}` : ""} }`;
  const entries = users.map((u) => {
    if (!/^U[A-Z2-7]{55}$/.test(u.publicKey)) throw new Error(`not an nkey user public key: ${JSON.stringify(u.publicKey)}`);
    return [
      `    # ${u.name.replace(/[\r\n]/g, " ")}`,
      `    { nkey: ${q(u.publicKey)}, permissions: {`,
      `        publish: ${rules(u.permissions.publish)}`,
      `        subscribe: ${rules(u.permissions.subscribe)}`,
      `    } }`,
    ].join("\n");
  });
  return `authorization {\n  users = [\n${entries.join("\n")}\n  ]\n}\n`;
}
