/** Request headers a client may set on any command or query (docs/protocol.md). */
export const RequestHeader = {
  /** Idempotency key of a command: the `Nats-Msg-Id` of its event. */
  CommandId: "Purser-Command-Id",
  CorrelationId: "Purser-Correlation-Id",
  Actor: "Purser-Actor",
  /**
   * Queries: the views must have applied at least this rv first. A number for a
   * namespaced query; `<ns>=<rv>,…` (namespace names as-is) for a global one.
   */
  MinRv: "Purser-Min-Rv",
  /**
   * The lease a command runs under (containerd's `containerd-lease` gRPC
   * header): what the command creates is recorded in that lease.
   */
  Lease: "Purser-Lease",
  /**
   * Queries: answer from the views as they were at this point of history —
   * `rv=N` (namespaced queries) or an RFC 3339 time (docs/protocol.md).
   */
  AsOf: "Purser-As-Of",
  /** Where a long operation (rebuild) publishes its progress. */
  ProgressSubject: "Purser-Progress-Subject",
} as const;
