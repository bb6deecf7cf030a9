import { RE2JS, RE2JSSyntaxException } from "re2js";

/**
 * The pattern of a `~=` selector, in Go's RE2 syntax (containerd calls
 * `regexp.Compile` on it), run by re2js: RE2 itself, in linear time whatever
 * the pattern and the input, with Go's syntax and error texts. A backtracking
 * JavaScript RegExp took seconds per row on `^(.+)+@$` and froze the service
 * for minutes on `^(a|a)+$` (issue 11). Patterns stay unanchored, as Go's
 * `MatchString` is.
 */
export interface GoRegexp {
  /** The pattern as written. */
  readonly source: string;
  /** True when the pattern matches somewhere in `value` (Go's `MatchString`). */
  test(value: string): boolean;
}

/** Thrown when a pattern cannot be compiled; `reason` is Go's text without its `error parsing regexp: ` prefix. */
export class RegexpSyntaxError extends Error {
  override readonly name = "RegexpSyntaxError";
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`error compiling regexp ${goQuote(pattern)}: ${reason}`);
  }
}

/**
 * Compiles a Go RE2 pattern.
 *
 * @throws RegexpSyntaxError when Go would reject the pattern.
 */
export function compileGoRegexp(pattern: string): GoRegexp {
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    if (!(err instanceof RE2JSSyntaxException)) throw err;
    throw new RegexpSyntaxError(pattern, err.message.replace(/^error parsing regexp: /, ""));
  }
  return { source: pattern, test: (value) => re.matcher(value).find() };
}

const c = (ch: string): number => ch.codePointAt(0)!;

/**
 * Go's `strconv.Quote`, which `%q` uses: printable runes as they are, the
 * usual short escapes, `\x`/`\u`/`\U` for the rest.
 */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const r = c(ch);
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch)) out += ch;
    else if (ch === "\x07") out += "\\a";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\v") out += "\\v";
    else if (r < 0x20 || r === 0x7f) out += "\\x" + r.toString(16).padStart(2, "0");
    else if (r < 0x10000) out += "\\u" + r.toString(16).padStart(4, "0");
    else out += "\\U" + r.toString(16).padStart(8, "0");
  }
  return out + '"';
}
