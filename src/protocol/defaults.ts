/**
 * Defaults a request may leave out, which client and server must agree on.
 */

/** The snapshotter used when a request names none (`ctr`'s default is overlayfs; purser ships native). */
export const defaultSnapshotter = "native";

/** Where clients look for NATS when neither `--server` nor `NATS_URL` says (the embedded server's address). */
export const defaultNatsUrl = "nats://127.0.0.1:4222";

/** The type URL containerd gives a marshalled OCI runtime spec (a container's `spec` is this Any, its value the spec's JSON). */
export const runtimeSpecTypeUrl = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

/**
 * How often an open content writer tells the server it is alive (between and
 * during its requests); the server frees a writer's ref lock after three such
 * periods without a word (serve's default lock timeout), so the ref of a
 * killed client is free again within seconds.
 */
export const writerKeepaliveMs = 2_000;

/** The runtime a container gets when none is named (`ctr containers create`'s default). */
export const defaultRuntime = "io.containerd.runc.v2";

/** ctr's runtime options for {@link defaultRuntime} with no runc flags: an empty `options.Options`, as an Any. */
export function runcDefaultOptions(): { type_url: string; value: Uint8Array } {
  return { type_url: "containerd.runc.v1.Options", value: new Uint8Array(0) };
}
