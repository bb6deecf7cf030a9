/**
 * A reversible encoding of arbitrary strings into NATS subject tokens and
 * stream-name parts.
 *
 * Namespace names may contain `.` (a NATS token separator) and stream names may
 * not contain `.`, `*`, `>`, whitespace or path separators. Every UTF-8 byte
 * outside `[A-Za-z0-9-]` is written as `_` followed by two upper-case hex digits,
 * so `_` itself becomes `_5F` and `a.b` becomes `a_2Eb`. The output alphabet is
 * `[A-Za-z0-9_-]`, and a `_` is always followed by two hex digits: tokens such as
 * `_global` can never be produced, which is what reserves them for global
 * subjects (see docs/protocol.md).
 */
const plain = /^[A-Za-z0-9-]$/;

export function encodeToken(value: string): string {
  let out = "";
  for (const ch of value) {
    if (plain.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, "utf8")) out += "_" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Inverse of {@link encodeToken}; throws on anything it could not have produced (a non-canonical spelling included). */
export function decodeToken(token: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i]!;
    if (ch === "_") {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) throw new Error(`invalid encoded token ${JSON.stringify(token)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (plain.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      throw new Error(`invalid encoded token ${JSON.stringify(token)}`);
    }
  }
  const value = Buffer.from(bytes).toString("utf8");
  // One spelling per value: `_74enant-b` also decodes to `tenant-b`, and a
  // NATS rule written for `tenant-b` would not see it (docs/security.md).
  if (encodeToken(value) !== token) throw new Error(`invalid encoded token ${JSON.stringify(token)}: not canonical (${JSON.stringify(encodeToken(value))})`);
  return value;
}
