/**
 * The filter model (containerd `filters/filter.go`): a tree of `Any` (OR),
 * `All` (AND) and selectors `<fieldpath>[<operator><value>]`, matched
 * against an {@link Adaptor}.
 */
import type { Adaptor } from "./adaptor.js";
import { compileGoRegexp, type GoRegexp } from "./regexp.js";

/** Something that can decide whether the object behind an adaptor matches. */
export interface Filter {
  match(adaptor: Adaptor): boolean;
}

/** Matches everything: what an empty filter string or no filters mean. */
export const Always: Filter = Object.freeze({ match: () => true });

/** Matches when any member does: several filter strings are ORed. */
export class Any implements Filter {
  constructor(readonly filters: readonly Filter[]) {}

  match(adaptor: Adaptor): boolean {
    return this.filters.some((f) => f.match(adaptor));
  }
}

/** Matches when every member does: a comma ANDs selectors. */
export class All implements Filter {
  constructor(readonly filters: readonly Filter[]) {}

  match(adaptor: Adaptor): boolean {
    return this.filters.every((f) => f.match(adaptor));
  }
}

/** Selector operators; `Present` is a field path on its own. */
export const Operator = {
  Present: "?",
  Equal: "==",
  NotEqual: "!=",
  Matches: "~=",
} as const;
export type Operator = (typeof Operator)[keyof typeof Operator];

/** One `<fieldpath>[<operator><value>]` term. */
export class Selector implements Filter {
  /** The compiled pattern of a `~=` selector. */
  readonly re: GoRegexp | undefined;

  /**
   * @param re the compiled pattern for `~=`; compiled from `value` (Go RE2
   *   syntax) when omitted, which throws `RegexpSyntaxError` if it is invalid.
   *   Compiling up front is purser's divergence 5: containerd compiles at
   *   match time and silently matches nothing.
   */
  constructor(
    readonly fieldpath: readonly string[],
    readonly operator: Operator,
    readonly value = "",
    re?: GoRegexp,
  ) {
    this.re = operator === Operator.Matches ? (re ?? compileGoRegexp(value)) : undefined;
  }

  match(adaptor: Adaptor): boolean {
    const value = adaptor(this.fieldpath);
    switch (this.operator) {
      case Operator.Present:
        return value !== undefined;
      case Operator.Equal:
        return value !== undefined && value === this.value;
      case Operator.NotEqual:
        // containerd compares the adaptor's value, which is "" when absent,
        // without looking at presence: an absent field matches `!=x` (but
        // not `!=""`).
        return (value ?? "") !== this.value;
      case Operator.Matches:
        // Likewise an absent field is tested as "": `labels.x~=^$` matches
        // objects without that label, as in containerd.
        return this.re!.test(value ?? "");
      default: {
        const unreachable: never = this.operator;
        return unreachable;
      }
    }
  }
}
