import { invalidArgument } from "../errors/errdefs.js";

/**
 * Image references as containerd's importer and exporter treat them:
 * Docker's normalization (`reference.ParseDockerRef`: `alpine` →
 * `docker.io/library/alpine:latest`), its inverse for `docker save`-style
 * `RepoTags` (`FamiliarString`), the OCI ref-name (the tag alone), and ctr
 * import's prefix translators (`archive.AddRefPrefix` / `FilterRefPrefix`).
 */

const defaultDomain = "docker.io";
const legacyDefaultDomain = "index.docker.io";
const officialRepoPrefix = "library/";

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$/;
const domainPattern = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestPattern = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** A parsed reference: `domain/path[:tag][@digest]`. */
export interface Reference {
  domain: string;
  path: string;
  tag?: string;
  digest?: string;
}

export function referenceString(r: Reference): string {
  return `${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/** `ParseNormalizedNamed`: splits off the domain (docker.io when there is none) and checks the grammar. */
export function parseNormalizedNamed(ref: string): Reference {
  const fail = (why: string) => invalidArgument(`normalize image ref ${JSON.stringify(ref)}: ${why}`);
  if (/^[a-f0-9]{64}$/.test(ref)) throw fail("invalid repository name (64-byte hexadecimal strings are not allowed)");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!digestPattern.test(digest)) throw fail("invalid reference format");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagPattern.test(tag)) throw fail("invalid reference format");
  }
  let domain: string;
  let path: string;
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  if (slash < 0 || (!first.includes(".") && !first.includes(":") && first !== "localhost" && first.toLowerCase() === first)) {
    domain = defaultDomain;
    path = rest;
  } else {
    domain = first;
    path = rest.slice(slash + 1);
  }
  if (domain === legacyDefaultDomain) domain = defaultDomain;
  if (domain === defaultDomain && !path.includes("/")) path = officialRepoPrefix + path;
  if (path.toLowerCase() !== path) throw fail("repository name must be lowercase");
  if (!domainPattern.test(domain) || path === "" || !path.split("/").every((c) => pathComponent.test(c))) throw fail("invalid reference format");
  if (domain.length + 1 + path.length > 255) throw fail("repository name must not be more than 255 characters");
  return { domain, path, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * `ParseDockerRef`: normalized, `:latest` added when there is neither tag
 * nor digest, the tag dropped when there is a digest.
 */
export function normalizeDockerRef(ref: string): string {
  const r = parseNormalizedNamed(ref);
  if (r.digest) delete r.tag;
  else if (!r.tag) r.tag = "latest";
  return referenceString(r);
}

/** `FamiliarString(TagNameOnly(…))`: `docker.io/library/alpine:3` → `alpine:3`, as `docker save` writes RepoTags. */
export function familiarizeRef(ref: string): string {
  const r = parseNormalizedNamed(ref);
  if (!r.tag && !r.digest) r.tag = "latest";
  let name = `${r.domain}/${r.path}`;
  if (r.domain === defaultDomain) name = r.path.startsWith(officialRepoPrefix) && r.path.split("/").length === 2 ? r.path.slice(officialRepoPrefix.length) : r.path;
  return `${name}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}

/**
 * The OCI `org.opencontainers.image.ref.name` of a full name: the "object"
 * after the repository (the tag, `tag@digest` or `@digest`), or the name
 * itself when it has none (containerd's `ociReferenceName`).
 */
export function ociReferenceName(name: string): string {
  const slash = name.lastIndexOf("/");
  const at = name.indexOf("@", slash + 1);
  const colon = name.indexOf(":", slash + 1);
  if (slash < 0) return name;
  if (colon >= 0 && (at < 0 || colon < at)) return name.slice(colon + 1);
  if (at >= 0) return name.slice(at);
  return name;
}

/** Whether `s` is `prefix` or continues it with `/`, `:` or `@` (containerd's `isImagePrefix`). */
function isImagePrefix(s: string, prefix: string): boolean {
  if (!s.startsWith(prefix)) return false;
  return s.length === prefix.length || "/:@".includes(s[prefix.length]!);
}

/**
 * ctr import's translation of an OCI ref name: a tag alone becomes
 * `<prefix>:<tag>`; a full reference is kept, or, when `filter` is set (ctr's
 * `--base-name`), kept only if it starts with the prefix (else "").
 */
export function translateRefName(refName: string, prefix: string, filter: boolean): string {
  if (/[/:@]/.test(refName)) return filter && !isImagePrefix(refName, prefix) ? "" : refName;
  return `${prefix}:${refName}`;
}
