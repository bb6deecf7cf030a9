/**
 * Adaptors expose an object's fields to a filter by field path (containerd
 * `filters/adaptor.go`), plus the helpers resource adaptors are built from
 * (containerd `metadata/adaptors.go`, `events/events.go`).
 */

/**
 * Returns the value at `fieldpath`, or `undefined` when the field is not
 * present (containerd's `Field(fieldpath) (value string, present bool)`).
 *
 * A present field may have the value `""` (a label set to the empty string);
 * containerd's scalar fields, though, count as present only when non-empty
 * (see {@link nonEmpty}).
 */
export type Adaptor = (fieldpath: readonly string[]) => string | undefined;

/** A string-to-string map such as labels or annotations. */
export type StringMap = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/**
 * A scalar string field: present only when non-empty, as containerd's
 * adaptors return `obj.Name, len(obj.Name) > 0`.
 */
export function nonEmpty(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === "" ? undefined : value;
}

/**
 * containerd's `checkMap`: the rest of the field path, joined with `.`, is
 * one key, so `labels.a.b` looks up the label `"a.b"`. An empty or missing
 * map means "not present" for every key; a key set to `""` is present.
 */
export function mapField(map: StringMap | null | undefined, rest: readonly string[]): string | undefined {
  if (map === null || map === undefined) return undefined;
  const key = rest.join(".");
  if (isReadonlyMap(map)) return map.size === 0 ? undefined : map.get(key);
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

function isReadonlyMap(map: StringMap): map is ReadonlyMap<string, string> {
  return map instanceof Map;
}

/**
 * Builds an adaptor from a table of top-level field name → getter. The
 * getter receives the rest of the path (after the field name), so nested
 * fields can be another `adaptRecord` and maps can use {@link mapField}:
 *
 * ```ts
 * adaptRecord({
 *   name: () => nonEmpty(image.name),
 *   target: adaptRecord({ digest: () => nonEmpty(image.target.digest) }),
 *   labels: (rest) => mapField(image.labels, rest),
 * })
 * ```
 *
 * An empty path or an unknown name is "not present", as in every containerd
 * adaptor. Like containerd's, a scalar getter may ignore a longer path
 * (`name.x` reads `name`); that is the getter's choice.
 */
export function adaptRecord(fields: Readonly<Record<string, Adaptor>>): Adaptor {
  return (fieldpath) => {
    const [name, ...rest] = fieldpath;
    // hasOwn keeps `constructor` or `__proto__` from reaching Object.prototype.
    if (name === undefined || !Object.hasOwn(fields, name)) return undefined;
    return fields[name]!(rest);
  };
}

/** The fields of an event envelope that filters can see (A.13). */
export interface EnvelopeFields {
  readonly namespace: string;
  readonly topic: string;
  /** The decoded payload as a plain object; absent payloads match nothing. */
  readonly event?: unknown;
}

/**
 * The adaptor of an event envelope (containerd `events.Envelope.Field`):
 * `namespace`, `topic` and `event.<fieldpath>` into the payload (see
 * {@link adaptObject}). `timestamp` is not exposed: containerd leaves it
 * unhandled.
 */
export function adaptEnvelope(envelope: EnvelopeFields): Adaptor {
  return adaptRecord({
    namespace: () => nonEmpty(envelope.namespace),
    topic: () => nonEmpty(envelope.topic),
    event: adaptObject(envelope.event),
  });
}

/**
 * An adaptor over a plain JS object standing for a protobuf message, with
 * the rules of containerd's generated `Field` methods (protoc-gen-gogo
 * `fieldpath`):
 *
 * - a string is present when non-empty; numbers, bigints and booleans are
 *   present and stringified; either ignores any longer path;
 * - a plain object whose values are all strings is a map: the rest of the
 *   path is one key (`labels.a.b` → key `"a.b"`), an empty map is absent;
 * - any other plain object is a nested message, walked by path (an empty
 *   rest is absent);
 * - arrays, `null`, `undefined` and class instances (Date, Uint8Array) are
 *   absent, as repeated fields, timestamps and bytes are in containerd.
 *
 * Keys are matched exactly, so payloads must use the proto field names
 * (`snapshot_key`, not `snapshotKey`) for filters to read as containerd's do.
 */
export function adaptObject(value: unknown): Adaptor {
  return (fieldpath) => walkMessage(value, fieldpath);
}

function walkMessage(message: unknown, fieldpath: readonly string[]): string | undefined {
  const [name, ...rest] = fieldpath;
  if (name === undefined || !isPlainObject(message) || !Object.hasOwn(message, name)) return undefined;
  const field = message[name];
  switch (typeof field) {
    case "string":
      return nonEmpty(field);
    case "number":
    case "bigint":
    case "boolean":
      return String(field);
  }
  if (!isPlainObject(field)) return undefined;
  if (Object.values(field).every((v) => typeof v === "string")) {
    return mapField(field as Record<string, string>, rest);
  }
  return walkMessage(field, rest);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
