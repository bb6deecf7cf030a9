/** Lease events (containerd has none: decided divergence 7). */
export interface LeaseDeleted {
  type: "LeaseDeleted";
  data: { id: string };
}

export type LeaseEvent = LeaseDeleted;
