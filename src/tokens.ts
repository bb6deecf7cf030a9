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
} as const;
