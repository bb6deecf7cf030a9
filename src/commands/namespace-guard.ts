import type { Expectation } from "../events/event-store.js";
import { namespaceSubject } from "../events/subjects.js";
import { getNamespace } from "../projections/namespaces.js";
import type { Append, CommandContext } from "./command.js";
import { implicitNamespaceCreation } from "../domain/namespaces.js";

/**
 * containerd creates a namespace silently on the first write of any resource
 * into it (A.4); purser does too, but appends an explicit implicit
 * `NamespaceCreated` first (decided divergence 1). Every namespaced create
 * passes its appends through here.
 */
export function withImplicitNamespace(ctx: CommandContext, appends: Append[]): Append[] {
  if (getNamespace(ctx.views, ctx.namespace)) return appends;
  return [
    {
      event: implicitNamespaceCreation(ctx.namespace, ctx.now),
      expect: objectExpectation(ctx, namespaceSubject(ctx.namespace)),
    },
    ...appends,
  ];
}

/** Per-object OCC: the subject's last sequence as the views know it (0 = never written). */
export function objectExpectation(ctx: CommandContext, subject: string): Expectation {
  return { lastSubjectSequence: ctx.views.heads.get(subject)?.seq ?? 0 };
}
