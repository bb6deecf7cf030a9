import { invalidArgument, PurserError } from "../errors/errdefs.js";

/** containerd `identifiers.Validate`: namespaces, container ids, topic components. */
export const identifierMaxLength = 76;
const identifierPattern = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;
const identifierPatternText = "^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$";

/** Go's %q for the strings we quote in messages (JSON quoting matches it for printable text). */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** Returns the error containerd would give, or undefined when `s` is a valid identifier. */
export function identifierError(s: string): PurserError | undefined {
  if (s.length === 0) return invalidArgument("identifier must not be empty");
  if (s.length > identifierMaxLength) {
    return invalidArgument(`identifier ${quote(s)} greater than maximum length (${identifierMaxLength} characters)`);
  }
  if (!identifierPattern.test(s)) return invalidArgument(`identifier ${quote(s)} must match ${identifierPatternText}`);
  return undefined;
}

export function validateIdentifier(s: string): void {
  const err = identifierError(s);
  if (err) throw err;
}
