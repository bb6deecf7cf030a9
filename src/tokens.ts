/** Injection tokens of the composition root (tsyringe). */
export const Tokens = {
  NatsConnection: Symbol("NatsConnection"),
  EventStoreOptions: Symbol("EventStoreOptions"),
  EventStore: Symbol("EventStore"),
  ViewStoreHolder: Symbol("ViewStoreHolder"),
  Projections: Symbol("Projections"),
  RuntimeOptions: Symbol("RuntimeOptions"),
  ProjectionRuntime: Symbol("ProjectionRuntime"),
  Clock: Symbol("Clock"),
  Logger: Symbol("Logger"),
  CommandRunner: Symbol("CommandRunner"),
  ServiceOptions: Symbol("ServiceOptions"),
  CommandService: Symbol("CommandService"),
  AsOfViews: Symbol("AsOfViews"),
  /** The process's data directory (views, blobs, ingests, snapshots, scratch views). */
  DataDir: Symbol("DataDir"),
  /** Where time-travel views are replayed (`<data>/scratch`). */
  ScratchDir: Symbol("ScratchDir"),
  DefinitionEndpoints: Symbol("DefinitionEndpoints"),
  ViewRebuilder: Symbol("ViewRebuilder"),
  ContentOptions: Symbol("ContentOptions"),
  BlobStore: Symbol("BlobStore"),
  ContentService: Symbol("ContentService"),
  Snapshotters: Symbol("Snapshotters"),
  SnapshotService: Symbol("SnapshotService"),
  ImageUnpacker: Symbol("ImageUnpacker"),
  GcOptions: Symbol("GcOptions"),
  GcService: Symbol("GcService"),
  UnpackLimits: Symbol("UnpackLimits"),
  /** Who admits tenants to NATS (the embedded server's configuration), or one that refuses with an operator's own NATS. */
  TenantAuthority: Symbol("TenantAuthority"),
  TenantService: Symbol("TenantService"),
} as const;
