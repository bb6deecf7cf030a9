/**
 * Compiles the pattern of a `~=` selector, written in Go's RE2 syntax
 * (containerd calls `regexp.Compile` on it), into a JavaScript RegExp with the
 * same meaning.
 *
 * The translation walks the pattern once and rewrites what differs:
 *
 * - leading inline flags `(?i)`, `(?s)`, `(?m)`, `(?U)` (and combinations such
 *   as `(?is)` or `(?i-s)`) become RegExp flags; `U` (ungreedy) is applied by
 *   swapping the laziness of every quantifier. Flags later in the pattern are
 *   rejected: Node 20 has no inline modifiers;
 * - `.` without `s` matches everything but `\n` (JS would also stop at `\r`,
 *   U+2028 and U+2029); `\s` is Go's ASCII `[\t\n\f\r ]`; `\A`, `\z`,
 *   `\x{…}`, octal escapes, `\Q…\E`, `\pL`, `\p{Greek}`, `\p{^Greek}`,
 *   POSIX `[:alpha:]` classes and `(?P<name>…)` get their JS spelling;
 * - a `{`, `}` or `]` that Go reads as a literal is escaped, since JS's `u`
 *   mode would reject it;
 * - what Go rejects is rejected too: backreferences, lookaround, unknown
 *   letter escapes, repeat counts above 1000.
 *
 * Patterns stay unanchored, as Go's `MatchString` is. The `u` flag is always
 * set so that `.` and classes work on code points, as Go's do on runes.
 */

/** Thrown when a pattern cannot be compiled; `reason` says why. */
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
 * Compiles a Go RE2 pattern into an equivalent JavaScript RegExp.
 *
 * @throws RegexpSyntaxError when Go or JavaScript would reject the pattern.
 */
export function compileGoRegexp(pattern: string): RegExp {
  const { source, flags } = translateGoRegexp(pattern);
  try {
    return new RegExp(source, flags);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // V8 says "Invalid regular expression: /<source>/<flags>: <reason>"; the
    // translated source would only confuse, so keep the reason alone.
    const prefix = `Invalid regular expression: /${source}/${flags}: `;
    throw new RegexpSyntaxError(pattern, message.startsWith(prefix) ? message.slice(prefix.length) : message);
  }
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

/** A syntax error found while translating, reported with the whole pattern. */
class TranslateError extends Error {}

/** Translates a Go RE2 pattern; exported for tests. */
export function translateGoRegexp(pattern: string): { source: string; flags: string } {
  const flags: Flags = { i: false, m: false, s: false, U: false };
  let rest = pattern;
  for (;;) {
    const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(rest);
    if (m === null || (m[1] === "" && (m[2] ?? "") === "")) break;
    for (const f of m[1]!) flags[f as keyof Flags] = true;
    for (const f of m[2] ?? "") flags[f as keyof Flags] = false;
    rest = rest.slice(m[0].length);
  }
  try {
    const source = new Translator(rest, flags).translate();
    return { source, flags: "u" + (flags.i ? "i" : "") + (flags.m ? "m" : "") + (flags.s ? "s" : "") };
  } catch (err) {
    if (err instanceof TranslateError) throw new RegexpSyntaxError(pattern, err.message);
    throw err;
  }
}

/** Inclusive code-point ranges. */
type Ranges = ReadonlyArray<readonly [number, number]>;

const MAX_RUNE = 0x10ffff;
const c = (ch: string): number => ch.codePointAt(0)!;

/** Go's POSIX classes (`regexp/syntax/perl_groups.go`), all ASCII. */
const posixClasses: Readonly<Record<string, Ranges>> = {
  alnum: [[c("0"), c("9")], [c("A"), c("Z")], [c("a"), c("z")]],
  alpha: [[c("A"), c("Z")], [c("a"), c("z")]],
  ascii: [[0, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0, 0x1f], [0x7f, 0x7f]],
  digit: [[c("0"), c("9")]],
  graph: [[0x21, 0x7e]],
  lower: [[c("a"), c("z")]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[c("A"), c("Z")]],
  word: [[c("0"), c("9")], [c("A"), c("Z")], [c("_"), c("_")], [c("a"), c("z")]],
  xdigit: [[c("0"), c("9")], [c("A"), c("F")], [c("a"), c("f")]],
};

/** Go's `\s` is ASCII only and, unlike JS's, excludes `\v`. */
const goSpace: Ranges = [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]];

function complement(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

/** A code point as a JS `u`-mode atom that is literal inside and outside classes. */
function literal(r: number): string {
  return /^[A-Za-z0-9]$/.test(String.fromCodePoint(r)) ? String.fromCodePoint(r) : `\\u{${r.toString(16)}}`;
}

function rangesBody(ranges: Ranges): string {
  return ranges.map(([lo, hi]) => (lo === hi ? literal(lo) : `${literal(lo)}-${literal(hi)}`)).join("");
}

/** Go accepts a bare Unicode class name that JS only knows as a Script value. */
function unicodeClass(name: string, negated: boolean): string {
  const p = negated ? "P" : "p";
  if (!/^[A-Za-z_]+$/.test(name)) throw new TranslateError(`invalid character class range: \`\\p{${name}}\``);
  for (const candidate of [name, `Script=${name}`]) {
    try {
      new RegExp(`\\p{${candidate}}`, "u");
      return `\\${p}{${candidate}}`;
    } catch {
      // try the next spelling
    }
  }
  throw new TranslateError(`invalid character class range: \`\\p{${name}}\``);
}

class Translator {
  private i = 0;
  private out = "";

  constructor(
    private readonly src: string,
    private readonly flags: Flags,
  ) {}

  translate(): string {
    while (this.i < this.src.length) this.atom();
    return this.out;
  }

  private peekChar(offset = 0): string | undefined {
    const r = this.src.codePointAt(this.i + offset);
    return r === undefined ? undefined : String.fromCodePoint(r);
  }

  private take(): string {
    const ch = this.peekChar()!;
    this.i += ch.length;
    return ch;
  }

  private atom(): void {
    const ch = this.take();
    switch (ch) {
      case "\\":
        this.out += this.escape(false);
        return;
      case "[":
        this.out += this.charClass();
        return;
      case "(":
        this.out += this.group();
        return;
      case ".":
        // With `s` the JS flag makes `.` match everything, as Go's does.
        this.out += this.flags.s ? "." : "[^\\n]";
        return;
      case "*":
      case "+":
      case "?":
        this.out += ch + this.laziness();
        return;
      case "{": {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i - 1));
        if (m === null) {
          // Not a repeat: Go takes the brace literally.
          this.out += "\\{";
          return;
        }
        const min = Number(m[1]);
        const max = m[3] === undefined || m[3] === "" ? min : Number(m[3]);
        if (min > 1000 || max > 1000 || (m[3] !== undefined && m[3] !== "" && max < min)) {
          throw new TranslateError(`invalid repeat count: \`${m[0]}\``);
        }
        this.i += m[0].length - 1;
        this.out += m[0] + this.laziness();
        return;
      }
      case "}":
      case "]":
        this.out += "\\" + ch;
        return;
      default:
        // `^ $ | )` mean the same in both; everything else is a literal.
        this.out += /^[\^$|)]$/.test(ch) ? ch : literal(c(ch));
    }
  }

  /** Under `(?U)` a quantifier's laziness is inverted. */
  private laziness(): string {
    const lazy = this.peekChar() === "?";
    if (lazy) this.i++;
    return lazy !== this.flags.U ? "?" : "";
  }

  private group(): string {
    if (this.peekChar() !== "?") return "(";
    const rest = this.src.slice(this.i);
    const named = /^\?P?<([A-Za-z0-9_]+)>/.exec(rest);
    if (named !== null) {
      this.i += named[0].length;
      return `(?<${named[1]}>`;
    }
    if (rest.startsWith("?:")) {
      this.i += 2;
      return "(?:";
    }
    if (/^\?[imsU-]+[:)]/.test(rest)) {
      throw new TranslateError("inline flags are supported only at the start of the pattern");
    }
    throw new TranslateError(`invalid or unsupported Perl syntax: \`(${rest.slice(0, 2)}\``);
  }

  /**
   * Translates an escape after its backslash, following Go's `parseEscape`
   * (and, outside classes, `\A \z \b \B \Q`).
   */
  private escape(inClass: boolean): string {
    const e = this.peekChar();
    if (e === undefined) throw new TranslateError("trailing backslash at end of expression");
    this.i += e.length;

    switch (e) {
      case "d":
      case "D":
      case "w":
      case "W":
        return "\\" + e;
      case "s":
        return inClass ? rangesBody(goSpace) : `[${rangesBody(goSpace)}]`;
      case "S":
        return inClass ? rangesBody(complement(goSpace)) : `[^${rangesBody(goSpace)}]`;
      case "p":
      case "P":
        return this.unicodeEscape(e === "P");
      case "a":
        return literal(0x07);
      case "f":
      case "n":
      case "r":
      case "t":
      case "v":
        return "\\" + e;
      case "x":
        return literal(this.hexEscape());
      case "0":
      case "1":
      case "2":
      case "3":
      case "4":
      case "5":
      case "6":
      case "7":
      case "8":
      case "9":
        return literal(this.octalEscape(e));
    }
    if (!inClass) {
      switch (e) {
        case "A":
          return "(?<![\\s\\S])";
        case "z":
          return "(?![\\s\\S])";
        case "b":
        case "B":
          return "\\" + e;
        case "Q": {
          const end = this.src.indexOf("\\E", this.i);
          const quoted = end < 0 ? this.src.slice(this.i) : this.src.slice(this.i, end);
          this.i = end < 0 ? this.src.length : end + 2;
          return Array.from(quoted, (ch) => literal(c(ch))).join("");
        }
      }
    }
    // Go takes any escaped ASCII punctuation literally; anything else is an error.
    if (e.length === 1 && c(e) < 0x80 && !/^[A-Za-z0-9]$/.test(e)) return literal(c(e));
    throw new TranslateError(`invalid escape sequence: \`\\${e}\``);
  }

  private hexEscape(): number {
    const rest = this.src.slice(this.i);
    const braced = /^\{([0-9A-Fa-f]+)\}/.exec(rest);
    const plain = /^[0-9A-Fa-f]{2}/.exec(rest);
    const m = braced ?? plain;
    if (m === null) throw new TranslateError(`invalid escape sequence: \`\\x${rest.slice(0, 2)}\``);
    const v = parseInt(braced !== null ? braced[1]! : m[0], 16);
    if (v > MAX_RUNE) throw new TranslateError(`invalid escape sequence: \`\\x${m[0]}\``);
    this.i += m[0].length;
    return v;
  }

  /** `\0`, `\0NN`, `\NNN` are octal; a lone `\1`–`\9` is a backreference, which Go rejects. */
  private octalEscape(first: string): number {
    const more = /^[0-7]{0,2}/.exec(this.src.slice(this.i))![0];
    if (first === "8" || first === "9" || (first !== "0" && more === "")) {
      throw new TranslateError(`invalid escape sequence: \`\\${first}\``);
    }
    this.i += more.length;
    return parseInt(first + more, 8);
  }

  private unicodeEscape(negatedByCase: boolean): string {
    let name: string;
    if (this.peekChar() === "{") {
      const end = this.src.indexOf("}", this.i);
      if (end < 0) throw new TranslateError(`invalid character class range: \`${this.src.slice(this.i - 2)}\``);
      name = this.src.slice(this.i + 1, end);
      this.i = end + 1;
    } else {
      const ch = this.peekChar();
      if (ch === undefined) throw new TranslateError("invalid character class range: `\\p`");
      name = ch;
      this.i += ch.length;
    }
    let negated = negatedByCase;
    if (name.startsWith("^")) {
      negated = !negated;
      name = name.slice(1);
    }
    return unicodeClass(name, negated);
  }

  /** Re-emits a Go character class item by item, after its `[`. */
  private charClass(): string {
    const start = this.i - 1;
    let body = "";
    let negated = false;
    if (this.peekChar() === "^") {
      negated = true;
      this.i++;
    }
    let first = true; // Go reads `]` as a literal when it comes first.
    for (;;) {
      const ch = this.peekChar();
      if (ch === undefined) throw new TranslateError(`missing closing ]: \`${this.src.slice(start)}\``);
      if (ch === "]" && !first) {
        this.i++;
        break;
      }
      first = false;

      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.i));
      if (posix !== null) {
        const ranges = posixClasses[posix[2]!];
        if (ranges === undefined) throw new TranslateError(`invalid character class range: \`${posix[0]}\``);
        body += rangesBody(posix[1] === "^" ? complement(ranges) : ranges);
        this.i += posix[0].length;
        continue;
      }

      const itemStart = this.i;
      const lo = this.classChar();
      if (typeof lo === "string") {
        body += lo; // a class escape such as \d or \p{L}
        continue;
      }
      if (this.peekChar() === "-" && this.peekChar(1) !== undefined && this.peekChar(1) !== "]") {
        this.i++;
        const hi = this.classChar();
        if (typeof hi === "string" || hi < lo) {
          throw new TranslateError(`invalid character class range: \`${this.src.slice(itemStart, this.i)}\``);
        }
        body += `${literal(lo)}-${literal(hi)}`;
        continue;
      }
      body += literal(lo);
    }
    return `[${negated ? "^" : ""}${body}]`;
  }

  /** One class member: a code point, or the translation of a class escape. */
  private classChar(): number | string {
    const ch = this.take();
    if (ch !== "\\") return c(ch);
    const e = this.peekChar();
    const translated = this.escape(true);
    if (e !== undefined && /^[dDwWsSpP]$/.test(e)) return translated;
    // Everything else escape() returns in class context is one literal atom.
    return decodeLiteral(translated);
  }
}

function decodeLiteral(atom: string): number {
  const m = /^\\u\{([0-9a-f]+)\}$/.exec(atom);
  if (m !== null) return parseInt(m[1]!, 16);
  const simple: Readonly<Record<string, number>> = { "\\f": 0x0c, "\\n": 0x0a, "\\r": 0x0d, "\\t": 0x09, "\\v": 0x0b };
  return simple[atom] ?? c(atom);
}

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
