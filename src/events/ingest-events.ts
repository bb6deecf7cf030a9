/** Ingest events: resumable uploads into the content store. */
export interface IngestAborted {
  type: "IngestAborted";
  data: { ref: string };
}

export type IngestEvent = IngestAborted;
