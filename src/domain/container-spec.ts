import { invalidArgument, notFound } from "../errors/errdefs.js";

/**
 * The OCI runtime spec and labels of a container made from an image, as
 * `ctr containers create IMAGE ID` makes them (containerd 1.6
 * `cmd/ctr/commands/run/run_unix.go` `NewContainer`): pure, no I/O. The
 * service (src/containers/container-builder.ts) reads the image config from
 * the content store and `/etc/passwd` and `/etc/group` from the container's
 * snapshot, and hands them here.
 *
 * The spec is built in ctr's order: `oci.WithDefaultSpec` (the default Unix
 * spec), `WithDefaultUnixDevices`, `WithEnv(--env)`, `WithImageConfig`
 * (image env as defaults under the given ones, args from Entrypoint+Cmd, cwd
 * from WorkingDir, the user and its supplementary groups from the rootfs),
 * then `--read-only`, the command line's args (which replace the image's
 * whole command, entrypoint included), `--cwd`, `--tty`, `--allow-new-privs`,
 * and `--annotation` and the labels as annotations.
 */

/** The part of an image config (`ocispec.ImageConfig`) a container is made from. */
export interface ImageRuntimeConfig {
  User?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
}

export interface ContainerSpecRequest {
  namespace: string;
  id: string;
  config: ImageRuntimeConfig;
  /** The command line after the container id; non-empty replaces the image's command. */
  args: readonly string[];
  env: readonly string[];
  cwd: string;
  tty: boolean;
  readOnly: boolean;
  allowNewPrivileges: boolean;
  /** `--annotation` then `--label` pairs, later ones winning. */
  annotations: Readonly<Record<string, string>>;
  /** The container rootfs's `/etc/passwd` and `/etc/group`; undefined when absent. */
  passwd?: string;
  group?: string;
}

/** containerd's `StopSignalLabel`. */
export const StopSignalLabel = "io.containerd.image.config.stop-signal";

/** containerd's `defaultUnixEnv`. */
const defaultUnixEnv = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

export function containerSpec(r: ContainerSpecRequest): Record<string, unknown> {
  let env = replaceOrAppendEnvValues(defaultUnixEnv, r.env);
  env = replaceOrAppendEnvValues(r.config.Env && r.config.Env.length > 0 ? r.config.Env : defaultUnixEnv, env);
  let args = [...(r.config.Entrypoint ?? []), ...(r.config.Cmd ?? [])];
  const user = resolveUser(r.config.User ?? "", r.passwd, r.group);
  if (r.args.length > 0) args = [...r.args];
  if (r.tty) env = [...env, "TERM=xterm"];
  const annotations = sortedEntries(r.annotations);
  // Field order and omitted empty fields as Go's encoding/json writes specs.Spec.
  return {
    ociVersion: "1.0.2-dev",
    process: {
      ...(r.tty ? { terminal: true } : {}),
      user: { uid: user.uid, gid: user.gid, ...(user.additionalGids.length > 0 ? { additionalGids: user.additionalGids } : {}) },
      args,
      env,
      cwd: r.cwd !== "" ? r.cwd : r.config.WorkingDir || "/",
      capabilities: { bounding: [...defaultCapabilities], effective: [...defaultCapabilities], permitted: [...defaultCapabilities] },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      ...(r.allowNewPrivileges ? {} : { noNewPrivileges: true }),
    },
    root: { path: "rootfs", ...(r.readOnly ? { readonly: true } : {}) },
    mounts: defaultMounts(),
    ...(annotations ? { annotations } : {}),
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }, ...defaultUnixDevices()] },
      cgroupsPath: `/${r.namespace}/${r.id}`,
      namespaces: ["pid", "ipc", "uts", "mount", "network"].map((type) => ({ type })),
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
}

/**
 * The container's labels as ctr sets them: the image config's labels
 * (`WithImageConfigLabels`), then the image's own and the command line's
 * (`WithAdditionalContainerLabels(buildLabels(…))`, the command line's
 * winning), then the stop signal (`WithImageStopSignal(image, "SIGTERM")`).
 */
export function containerLabels(
  config: ImageRuntimeConfig,
  imageLabels: Readonly<Record<string, string>>,
  given: Readonly<Record<string, string>>,
): Record<string, string> {
  return { ...config.Labels, ...imageLabels, ...given, [StopSignalLabel]: config.StopSignal || "SIGTERM" };
}

/** containerd's `replaceOrAppendEnvValues`: `k=v` replaces or appends, a bare `k` unsets. */
export function replaceOrAppendEnvValues(defaults: readonly string[], overrides: readonly string[]): string[] {
  const at = new Map<string, number>();
  const results: (string | undefined)[] = [];
  defaults.forEach((e, i) => {
    results.push(e);
    at.set(cut(e)[0], i);
  });
  for (const value of overrides) {
    const [k, , hasValue] = cut(value);
    const i = at.get(k);
    if (!hasValue) {
      if (i !== undefined) results[i] = undefined;
      continue;
    }
    if (i !== undefined) results[i] = value;
    else results.push(value);
  }
  return results.filter((e): e is string => e !== undefined && e !== "");
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/**
 * containerd's `WithUser(config.User)` then `WithAdditionalGIDs` (or
 * `WithAdditionalGIDs("root")` when the image names no user): `uid`, `name`,
 * `uid:gid`, `name:group` and mixes, resolved in the rootfs's files; the
 * primary gid is always among the additional ones (`ensureAdditionalGids`).
 */
export function resolveUser(userstr: string, passwd: string | undefined, group: string | undefined): ResolvedUser {
  const users = passwd === undefined ? undefined : parsePasswd(passwd);
  const groups = group === undefined ? undefined : parseGroup(group);
  let uid = 0;
  let gid = 0;
  let lookup = "root";
  if (userstr !== "") {
    const parts = userstr.split(":");
    if (parts.length > 2) throw invalidArgument(`invalid USER value ${userstr}`);
    const [u, g] = parts as [string, string | undefined];
    if (g === undefined) {
      if (isNumber(u)) {
        // WithUserID: a uid that no passwd entry has runs with gid 0.
        uid = Number(u);
        gid = users?.find((x) => x.uid === uid)?.gid ?? 0;
      } else {
        const found = findUser(users, (x) => x.name === u);
        uid = found.uid;
        gid = found.gid;
      }
    } else {
      uid = isNumber(u) ? Number(u) : findUser(users, (x) => x.name === u).uid;
      if (isNumber(g)) gid = Number(g);
      else {
        if (!groups) throw notFound("open /etc/group: no such file or directory");
        const found = groups.find((x) => x.name === g);
        if (!found) throw notFound("no groups found");
        gid = found.gid;
      }
    }
    lookup = String(uid);
  }
  // WithAdditionalGIDs: the user's name (from passwd when given as a uid), then the groups listing it.
  let username: string | undefined = lookup;
  if (isNumber(lookup)) username = users?.find((x) => x.uid === Number(lookup))?.name;
  const supplementary = username === undefined || !groups ? [] : groups.filter((g) => g.name !== username && g.members.includes(username!)).map((g) => g.gid);
  return { uid, gid, additionalGids: supplementary.includes(gid) ? supplementary : [gid, ...supplementary] };
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** runc's `user.ParsePasswd`: `name:password:uid:gid:gecos:home:shell`, blank lines skipped. */
function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).map((fields) => ({ name: fields[0] ?? "", uid: number(fields[2]), gid: number(fields[3]) }));
}

/** runc's `user.ParseGroup`: `name:password:gid:member,member`. */
function parseGroup(text: string): GroupEntry[] {
  return lines(text).map((fields) => ({ name: fields[0] ?? "", gid: number(fields[2]), members: (fields[3] ?? "").split(",").filter((m) => m !== "") }));
}

function lines(text: string): string[][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => l.split(":"));
}

function findUser(users: PasswdEntry[] | undefined, match: (u: PasswdEntry) => boolean): PasswdEntry {
  if (!users) throw notFound("open /etc/passwd: no such file or directory");
  const found = users.find(match);
  if (!found) throw notFound("no users found");
  return found;
}

/** Go's `strconv.Atoi` for a uid: decimal digits within uint32. */
function isNumber(s: string): boolean {
  return /^[0-9]{1,10}$/.test(s) && Number(s) <= 0xffffffff;
}

function number(s: string | undefined): number {
  return s !== undefined && isNumber(s) ? Number(s) : 0;
}

function cut(s: string): [string, string, boolean] {
  const i = s.indexOf("=");
  return i < 0 ? [s, "", false] : [s.slice(0, i), s.slice(i + 1), true];
}

function sortedEntries(m: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const keys = Object.keys(m).sort();
  return keys.length === 0 ? undefined : Object.fromEntries(keys.map((k) => [k, m[k]!]));
}

/** containerd's `populateDefaultUnixSpec` mounts. */
function defaultMounts() {
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
    { destination: "/run", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  ];
}

/** `oci.WithDefaultUnixDevices`: null, random, full, tty, zero, urandom, console, pts, ptmx. */
function defaultUnixDevices() {
  const rules: [number, number | undefined][] = [[1, 3], [1, 8], [1, 7], [5, 0], [1, 5], [1, 9], [5, 1], [136, undefined], [5, 2]];
  return rules.map(([major, minor]) => ({ allow: true, type: "c", major, ...(minor === undefined ? {} : { minor }), access: "rwm" }));
}

const defaultCapabilities = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];
