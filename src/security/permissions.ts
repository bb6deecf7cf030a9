import { streamName } from "../events/subjects.js";
import { hostSubjectRoot } from "../events/host-stream.js";
import { encodeToken } from "../events/token-encoding.js";
import { gcLockBucket } from "../gc/gc-lock.js";
import { commandSubjectRoot, globalToken } from "../protocol/subjects.js";
import { serviceUpSubject } from "../protocol/service.js";
import { invalidArgument } from "../errors/errdefs.js";

/**
 * What each identity may publish and subscribe to on NATS (docs/security.md):
 * pure functions, rendered into the embedded nats-server's configuration
 * (nats-auth-config.ts) and printed for an operator's own server.
 *
 *   service  its events, the JetStream API calls it makes (never a stream
 *            delete or purge), its KV bucket, replies; serves purser.v1.>
 *   admin    everything but writing the log (only the service appends events)
 *   tenant   commands and queries of its namespaces, reading their streams
 *            through consumers, replies on its own inbox prefix; nothing global
 */
export interface SubjectRules {
  allow: string[];
  deny?: string[];
}

export interface Permissions {
  publish: SubjectRules;
  subscribe: SubjectRules;
}

/** The service's own inbox prefix: its JetStream acks and deliveries are no one else's to read. */
export const serviceInboxPrefix = "_INBOX_purser";

/** A tenant's replies arrive under this prefix, which only that tenant may subscribe to. */
export function tenantInboxPrefix(tenant: string): string {
  return `_INBOX.t-${tenant}`;
}

/** Names a tenant can have: they become subject tokens and file names. */
export function requireTenantName(name: unknown): string {
  if (typeof name !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
    throw invalidArgument(`tenant name ${JSON.stringify(name)} must be 1-63 of [a-z0-9-], starting with a letter or digit`);
  }
  return name;
}

/** Stream and KV calls that destroy history: no identity of purser's is granted them. */
const destructiveApi = ["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>", "$JS.API.ACCOUNT.PURGE.>"];

export function servicePermissions(): Permissions {
  return {
    publish: {
      allow: [
        "purser.ev.>",
        `${hostSubjectRoot}.>`,
        "$JS.API.INFO",
        "$JS.API.STREAM.CREATE.*",
        "$JS.API.STREAM.UPDATE.*",
        "$JS.API.STREAM.INFO.*",
        "$JS.API.STREAM.NAMES",
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.MSG.GET.*",
        "$JS.API.DIRECT.GET.*",
        "$JS.API.DIRECT.GET.*.>",
        "$JS.API.CONSUMER.CREATE.*",
        "$JS.API.CONSUMER.CREATE.*.>",
        "$JS.API.CONSUMER.INFO.*.*",
        "$JS.API.CONSUMER.DELETE.*.*",
        "$JS.API.CONSUMER.MSG.NEXT.*.*",
        "$JS.ACK.>",
        "$JS.FC.>",
        `$KV.${gcLockBucket}.>`,
        // Clients send again what a restarted or reconnected process may have lost (server/service-announcer.ts).
        serviceUpSubject,
        // Replies: the service answers only under an inbox prefix (server/reply-guard.ts).
        "_INBOX.>",
      ],
      deny: destructiveApi,
    },
    subscribe: { allow: [`${commandSubjectRoot}.>`, "$SRV.>", `${serviceInboxPrefix}.>`, "$JS.EVENT.ADVISORY.STREAM.CREATED.>"] },
  };
}

export function adminPermissions(): Permissions {
  return {
    publish: { allow: [">"], deny: ["purser.ev.>", `${hostSubjectRoot}.>`] },
    subscribe: { allow: [">"] },
  };
}

export function tenantPermissions(tenant: string, namespaces: readonly string[]): Permissions {
  const publish: string[] = ["$JS.API.INFO"];
  for (const ns of namespaces) {
    const stream = streamName(ns);
    publish.push(
      `${commandSubjectRoot}.${encodeToken(ns)}.>`,
      `$JS.API.STREAM.INFO.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}`,
      `$JS.API.CONSUMER.CREATE.${stream}.>`,
      `$JS.API.CONSUMER.INFO.${stream}.*`,
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    );
  }
  return {
    publish: { allow: publish, deny: [...destructiveApi, "purser.ev.>", `${hostSubjectRoot}.>`, `${commandSubjectRoot}.${globalToken}.>`, "$SRV.>"] },
    subscribe: { allow: [`${tenantInboxPrefix(tenant)}.>`, serviceUpSubject] },
  };
}
