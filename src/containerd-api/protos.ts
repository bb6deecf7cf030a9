import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadPackageDefinition, type GrpcObject, type ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import protobuf from "protobufjs";

/**
 * containerd 1.6's API definitions, read at start from the tree
 * infra/containerd-protos.sh extracts from Debian's packages (never copied
 * into the repository): `var/containerd-api` beside the checkout, or
 * `PURSER_CONTAINERD_PROTOS`. Messages are plain objects with camelCase
 * fields, int64 as numbers, enums as names, bytes as Buffers, and every
 * field present (its default when unset): what a handler reads needs no
 * presence checks.
 */
const services = [
  "namespaces/v1/namespace",
  "images/v1/images",
  "containers/v1/containers",
  "leases/v1/leases",
  "content/v1/content",
  "snapshots/v1/snapshots",
  "diff/v1/diff",
  "events/v1/events",
  "introspection/v1/introspection",
  "version/v1/version",
  "tasks/v1/tasks",
];
const events = ["image", "content", "snapshot", "container", "namespace", "task"];

export function protosRoot(): string {
  const fromEnv = process.env.PURSER_CONTAINERD_PROTOS;
  if (fromEnv) return resolve(fromEnv);
  // dist/src/containerd-api → the checkout's root.
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "var", "containerd-api");
}

export interface ContainerdApiDefinitions {
  service(name: string): ServiceDefinition;
  /** A message type by its full name (`containerd.events.ImageCreate`): what goes into an Any. */
  messageType(name: string): protobuf.Type;
  /** The package tree (message constructors are not used: handlers answer plain objects). */
  readonly root: GrpcObject;
  /** Every file loaded, for Any payloads (`containerd.events.*`). */
  readonly files: readonly string[];
}

let loaded: ContainerdApiDefinitions | undefined;

export function loadContainerdApi(root = protosRoot()): ContainerdApiDefinitions {
  if (loaded) return loaded;
  const marker = join(root, "github.com", "containerd", "containerd", "api");
  if (!existsSync(marker)) {
    throw new Error(`containerd's API definitions are not in ${root}: run infra/containerd-protos.sh (or set PURSER_CONTAINERD_PROTOS)`);
  }
  const files = [
    ...services.map((s) => `github.com/containerd/containerd/api/services/${s}.proto`),
    ...events.map((e) => `github.com/containerd/containerd/api/events/${e}.proto`),
  ];
  const includeDirs = [root, join(root, "github.com/gogo/protobuf"), join(root, "github.com/gogo/protobuf/protobuf"), join(root, "github.com/gogo/googleapis")];
  const definition = loadSync(files, { includeDirs, keepCase: false, longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true });
  const tree = loadPackageDefinition(definition);
  // The same files through protobufjs itself, for the messages an Any carries (events).
  const messages = new protobuf.Root();
  messages.resolvePath = (_origin, target) => {
    for (const dir of includeDirs) {
      const path = join(dir, target);
      if (existsSync(path)) return path;
    }
    return target;
  };
  messages.loadSync(files.filter((f) => f.includes("/api/events/")), { keepCase: true });
  const lookup = (name: string): unknown => name.split(".").reduce<unknown>((at, part) => (at as Record<string, unknown> | undefined)?.[part], tree);
  loaded = {
    root: tree,
    files,
    messageType: (name: string) => messages.lookupType(name),
    service(name: string): ServiceDefinition {
      const ctor = lookup(name) as { service?: ServiceDefinition } | undefined;
      if (!ctor?.service) throw new Error(`${name} is not a service of containerd's API`);
      return ctor.service;
    },
  };
  return loaded;
}
