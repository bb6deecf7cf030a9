/**
 * The tokenizer of containerd's filter language (containerd 1.6
 * `filters/scanner.go`) and the unquoting of its quoted literals
 * (`filters/quote.go`).
 *
 * The scanner is re-expressed rune for rune because its quirks are part of the
 * observable grammar (conformance A.12), not the looser grammar comment in
 * `parser.go`:
 *
 * - field runes are `[A-Za-z0-9_]`, so a field may start with a digit;
 * - `,` and `.` are separators and are checked before value scanning, so a
 *   value can never start with either;
 * - an operator is any run of `=`, `!` and `~` (the parser decides which runs
 *   are legal);
 * - quote runes are `"`, `/` and `|` everywhere (the parser, not the scanner,
 *   restricts `/` and `|` to the value of `~=`); `'` is not a quote rune;
 * - whitespace is skipped before a token, but `peek()` does not skip it;
 * - the first error message sticks (`scanner.error` only records the first),
 *   even when it was raised while peeking.
 *
 * Positions are UTF-16 code-unit indices into the JS string, where containerd
 * uses byte offsets into UTF-8; the parser only uses them to slice the input
 * for error messages, so the texts are the same.
 */

/** Token kinds returned by {@link Scanner.scan} (containerd's `token*` constants). */
export const Token = {
  EOF: "EOF",
  Quoted: "Quoted",
  Value: "Value",
  Field: "Field",
  Separator: "Separator",
  Operator: "Operator",
  Illegal: "Illegal",
  /**
   * Any other rune. containerd returns the rune itself as the token; purser
   * returns this kind with the rune as `text` so a caller can still see it.
   */
  Char: "Char",
} as const;
export type Token = (typeof Token)[keyof typeof Token];

/** One scanned token: where it starts, its kind and the raw input it covers. */
export interface ScanResult {
  readonly pos: number;
  readonly token: Token;
  readonly text: string;
}

/** Rune sentinel returned by `next`/`peek` at end of input (containerd's `tokenEOF`, -1). */
export const EOF_RUNE = -1;
/** Rune sentinel for an unreadable rune: NUL or invalid UTF-8 (containerd's `tokenIllegal`). */
export const ILLEGAL_RUNE = -7;

/** The scanner's error messages, verbatim from containerd. */
export const ScanError = {
  RuneError: "rune error",
  UnexpectedNull: "unexpected null",
  NotTerminated: "quoted literal not terminated",
  IllegalEscape: "illegal escape sequence",
  IllegalNumericEscape: "illegal numeric escape sequence",
} as const;
export type ScanError = (typeof ScanError)[keyof typeof ScanError];

const cp = (ch: string): number => ch.codePointAt(0)!;
const BACKSLASH = cp("\\");
const NEWLINE = cp("\n");

/** Go's `unicode.IsSpace` is exactly the Unicode White_Space property. */
const whiteSpace = /^\p{White_Space}$/u;
/**
 * Go's `isValueRune` accepts letters, digits, numbers, graphic and punctuation
 * runes; together that is the graphic set (L, M, N, P, S, Zs), and spaces are
 * excluded separately.
 */
const graphic = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

export function isSpaceRune(r: number): boolean {
  return r >= 0 && whiteSpace.test(String.fromCodePoint(r));
}

/** `[A-Za-z0-9_]`: containerd 1.6 has no `-` here (that came with 2.x). */
export function isFieldRune(r: number): boolean {
  return r === cp("_") || (r >= cp("A") && r <= cp("Z")) || (r >= cp("a") && r <= cp("z")) || isDigitRune(r);
}

function isDigitRune(r: number): boolean {
  return r >= cp("0") && r <= cp("9");
}

export function isOperatorRune(r: number): boolean {
  return r === cp("=") || r === cp("!") || r === cp("~");
}

/** The single quote is deliberately absent: containerd never added it. */
export function isQuoteRune(r: number): boolean {
  return r === cp('"') || r === cp("/") || r === cp("|");
}

export function isSeparatorRune(r: number): boolean {
  return r === cp(",") || r === cp(".");
}

export function isValueRune(r: number): boolean {
  return r >= 0 && r !== cp(",") && !isSpaceRune(r) && graphic.test(String.fromCodePoint(r));
}

function digitVal(r: number): number {
  if (r >= cp("0") && r <= cp("9")) return r - cp("0");
  if (r >= cp("a") && r <= cp("f")) return r - cp("a") + 10;
  if (r >= cp("A") && r <= cp("F")) return r - cp("A") + 10;
  return 16; // larger than any legal digit value
}

/** A one-pass scanner over one filter string. */
export class Scanner {
  readonly input: string;
  /** Start of the current rune. */
  pos = 0;
  /** End of the current rune (start of the next). */
  ppos = 0;
  /** The first error met, or "" (containerd keeps only the first). */
  err = "";
  /** Set after an operator: the next non-separator token is a value. */
  private inValue = false;

  constructor(input: string) {
    this.input = input;
  }

  /** Reads the next rune, or {@link EOF_RUNE} / {@link ILLEGAL_RUNE}. */
  next(): number {
    if (this.pos >= this.input.length) return EOF_RUNE;
    this.pos = this.ppos;
    if (this.ppos >= this.input.length) return EOF_RUNE;

    const r = this.input.codePointAt(this.ppos)!;
    this.ppos += r > 0xffff ? 2 : 1;
    // Go's utf8.DecodeRuneInString yields RuneError both for invalid bytes and
    // for a literal U+FFFD, and containerd rejects both; a lone surrogate is
    // the JS analogue of an invalid byte.
    if (r === 0xfffd || (r >= 0xd800 && r <= 0xdfff)) {
      this.error(ScanError.RuneError);
      return ILLEGAL_RUNE;
    }
    if (r === 0) {
      this.error(ScanError.UnexpectedNull);
      return ILLEGAL_RUNE;
    }
    return r;
  }

  /** The next rune without consuming it. Errors raised here still stick. */
  peek(): number {
    const { pos, ppos } = this;
    const r = this.next();
    this.pos = pos;
    this.ppos = ppos;
    return r;
  }

  /** Scans one token, skipping whitespace before it. */
  scan(): ScanResult {
    let ch = this.next();
    let pos = this.pos;

    for (;;) {
      if (ch === EOF_RUNE) return { pos: this.pos, token: Token.EOF, text: "" };
      if (ch === ILLEGAL_RUNE) return { pos: this.pos, token: Token.Illegal, text: "" };
      if (isQuoteRune(ch)) {
        const ok = this.scanQuoted(ch);
        return { pos, token: ok ? Token.Quoted : Token.Illegal, text: this.input.slice(pos, this.ppos) };
      }
      if (isSeparatorRune(ch)) {
        this.inValue = false;
        return { pos, token: Token.Separator, text: this.input.slice(pos, this.ppos) };
      }
      if (isOperatorRune(ch)) {
        this.scanOperator();
        this.inValue = true;
        return { pos, token: Token.Operator, text: this.input.slice(pos, this.ppos) };
      }
      if (isSpaceRune(ch)) {
        ch = this.next();
        pos = this.pos;
        continue;
      }
      if (this.inValue) {
        // The first rune of a value is taken whatever it is; only the rest
        // must be value runes.
        this.scanValue();
        this.inValue = false;
        return { pos, token: Token.Value, text: this.input.slice(pos, this.ppos) };
      }
      if (isFieldRune(ch)) {
        this.scanField();
        return { pos, token: Token.Field, text: this.input.slice(pos, this.ppos) };
      }
      return { pos: this.pos, token: Token.Char, text: String.fromCodePoint(ch) };
    }
  }

  private scanField(): void {
    while (isFieldRune(this.peek())) this.next();
  }

  private scanOperator(): void {
    while (isOperatorRune(this.peek())) this.next();
  }

  private scanValue(): void {
    while (isValueRune(this.peek())) this.next();
  }

  /** Consumes a quoted literal after its opening quote; false when illegal. */
  private scanQuoted(quote: number): boolean {
    let illegal = false;
    let ch = this.next();
    while (ch !== quote) {
      if (ch === NEWLINE || ch < 0) {
        this.error(ScanError.NotTerminated);
        return false;
      }
      if (ch === BACKSLASH) {
        const [after, legal] = this.scanEscape(quote);
        ch = after;
        if (!legal) illegal = true;
      } else {
        ch = this.next();
      }
    }
    return !illegal;
  }

  /**
   * Consumes an escape after its backslash and returns the rune after it.
   * Go's escapes plus the literal's own quote, which is how `\/` and `\|`
   * become legal inside `/…/` and `|…|` (and only there).
   */
  private scanEscape(quote: number): [number, boolean] {
    const ch = this.next();
    switch (ch) {
      case cp("a"):
      case cp("b"):
      case cp("f"):
      case cp("n"):
      case cp("r"):
      case cp("t"):
      case cp("v"):
      case BACKSLASH:
      case quote:
        return [this.next(), true];
      case cp("0"):
      case cp("1"):
      case cp("2"):
      case cp("3"):
      case cp("4"):
      case cp("5"):
      case cp("6"):
      case cp("7"):
        return this.scanDigits(ch, 8, 3);
      case cp("x"):
        return this.scanDigits(this.next(), 16, 2);
      case cp("u"):
        return this.scanDigits(this.next(), 16, 4);
      case cp("U"):
        return this.scanDigits(this.next(), 16, 8);
      default:
        this.error(ScanError.IllegalEscape);
        return [ch, false];
    }
  }

  private scanDigits(first: number, base: number, count: number): [number, boolean] {
    let ch = first;
    let n = count;
    while (n > 0 && digitVal(ch) < base) {
      ch = this.next();
      n--;
    }
    if (n > 0) {
      this.error(ScanError.IllegalNumericEscape);
      return [ch, false];
    }
    return [ch, true];
  }

  private error(msg: ScanError): void {
    if (this.err === "") this.err = msg;
  }
}

/** containerd's `errQuoteSyntax`; the parser reports it as `unquoting failed: quote syntax error`. */
export class QuoteSyntaxError extends Error {
  override readonly name = "QuoteSyntaxError";
  constructor() {
    super("quote syntax error");
  }
}

/**
 * Decodes a quoted literal as containerd's `unquote` does: Go string-literal
 * syntax, with `/` and `|` accepted as double quotes so that `\/` and `\|`
 * escape the delimiter of a regular expression.
 *
 * Go builds a byte string, so `\xff` yields a lone byte; here the bytes are
 * decoded as UTF-8 at the end, so such a byte becomes U+FFFD.
 *
 * @throws QuoteSyntaxError when the literal is malformed.
 */
export function unquote(s: string): string {
  if (s.length < 2) throw new QuoteSyntaxError();
  const quote = s[0]!;
  if (quote !== s[s.length - 1]) throw new QuoteSyntaxError();
  if (quote !== '"' && quote !== "/" && quote !== "|") throw new QuoteSyntaxError();
  const body = s.slice(1, -1);
  if (body.includes("\n")) throw new QuoteSyntaxError();
  if (!body.includes("\\") && !body.includes(quote)) return body;

  const bytes: number[] = [];
  let i = 0;
  while (i < body.length) i = unquoteChar(body, i, quote, bytes);
  return utf8Decoder.decode(Uint8Array.from(bytes));
}

// ignoreBOM keeps a leading U+FEFF, which Go would keep as well.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const utf8Encoder = new TextEncoder();

const simpleEscapes: Readonly<Record<string, number>> = {
  a: 0x07,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
  "\\": 0x5c,
};

function pushRune(bytes: number[], r: number): void {
  // Go's utf8.EncodeRune writes U+FFFD for a surrogate; TextEncoder does too.
  for (const b of utf8Encoder.encode(String.fromCodePoint(r))) bytes.push(b);
}

/** Decodes one character of `body` at `i` into `bytes`; returns the next index. */
function unquoteChar(body: string, i: number, quote: string, bytes: number[]): number {
  const c = body[i]!;
  if (c === quote) throw new QuoteSyntaxError();
  if (c !== "\\") {
    const r = body.codePointAt(i)!;
    if (r < 0x80) bytes.push(r);
    else pushRune(bytes, r);
    return i + (r > 0xffff ? 2 : 1);
  }

  if (i + 1 >= body.length) throw new QuoteSyntaxError();
  const e = body[i + 1]!;
  let j = i + 2;
  const simple = simpleEscapes[e];
  if (simple !== undefined) {
    bytes.push(simple);
    return j;
  }
  switch (e) {
    case "x":
    case "u":
    case "U": {
      const n = e === "x" ? 2 : e === "u" ? 4 : 8;
      const digits = body.slice(j, j + n);
      if (digits.length < n || !/^[0-9A-Fa-f]+$/.test(digits)) throw new QuoteSyntaxError();
      const v = parseInt(digits, 16);
      j += n;
      if (e === "x") {
        // A single byte, possibly not valid UTF-8 on its own.
        bytes.push(v);
        return j;
      }
      if (v > 0x10ffff) throw new QuoteSyntaxError();
      if (v < 0x80) bytes.push(v);
      else pushRune(bytes, v);
      return j;
    }
    case "0":
    case "1":
    case "2":
    case "3":
    case "4":
    case "5":
    case "6":
    case "7": {
      const digits = body.slice(j, j + 2);
      if (digits.length < 2 || !/^[0-7]+$/.test(digits)) throw new QuoteSyntaxError();
      const v = parseInt(e + digits, 8);
      if (v > 255) throw new QuoteSyntaxError();
      bytes.push(v);
      return j + 2;
    }
    case "'":
    case '"':
    case "|":
    case "/":
      // Only the literal's own delimiter may be escaped.
      if (e !== quote) throw new QuoteSyntaxError();
      bytes.push(cp(e));
      return j;
    default:
      throw new QuoteSyntaxError();
  }
}
