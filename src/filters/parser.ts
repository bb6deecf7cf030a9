/**
 * The parser of containerd's filter language (containerd 1.6
 * `filters/parser.go`).
 *
 * The grammar, as containerd's comment states it (the scanner is the
 * authority where they differ, see `scanner.ts`):
 *
 * ```
 * selectors := selector ("," selector)*
 * selector  := fieldpath (operator value)
 * fieldpath := field ('.' field)*
 * field     := quoted | [A-Za-z] [A-Za-z0-9_]+
 * operator  := "==" | "!=" | "~="
 * value     := quoted | [^\s,]+
 * quoted    := <go string syntax>
 * ```
 *
 * Errors read exactly as containerd's `ParseAll` errors:
 * `filters: parse error: [<before> >|<c>|< <after>]: <msg>: invalid argument`,
 * or `[<input>]: <msg>` when the error is at the end of the input.
 */
import { invalidArgument, type PurserError } from "../errors/errdefs.js";
import { All, Always, Any, Operator, Selector, type Filter } from "./filter.js";
import { RegexpSyntaxError, compileGoRegexp } from "./regexp.js";
import { EOF_RUNE, QuoteSyntaxError, Scanner, Token, unquote } from "./scanner.js";

/**
 * Parses one filter string: selectors separated by `,`, all of which must
 * match. The empty string matches everything.
 *
 * @throws PurserError (InvalidArgument) on a syntax error, or on a `~=`
 *   pattern that does not compile (purser divergence 5).
 */
export function parse(input: string): Filter {
  if (input === "") return Always;
  return new Parser(input).parse();
}

/**
 * Parses several filter strings into one filter that matches when any of
 * them does (containerd `filters.ParseAll`). No strings, or any string that
 * is empty, match everything. Every string is parsed, so an error in any of
 * them is reported.
 *
 * @throws PurserError (InvalidArgument), as {@link parse}.
 */
export function parseAll(inputs: readonly string[]): Filter {
  const filters = inputs.map(parse);
  if (filters.length === 0 || filters.includes(Always)) return Always;
  return new Any(filters);
}

const rune = (ch: string): number => ch.codePointAt(0)!;

class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  parse(): Filter {
    const selectors = [this.selector()];
    for (;;) {
      // peek() does not skip whitespace, so `a==b ,c` stops here on the space.
      const r = this.scanner.peek();
      if (r === EOF_RUNE) break;
      if (r !== rune(",")) {
        // Go's string(rune) of the illegal sentinel is U+FFFD.
        throw this.error(this.scanner.ppos, `unexpected input: ${r < 0 ? "\ufffd" : String.fromCodePoint(r)}`);
      }
      const { pos, token } = this.scanner.scan();
      if (token !== Token.Separator) throw this.error(pos, "expected a separator");
      selectors.push(this.selector());
    }
    return new All(selectors);
  }

  private selector(): Selector {
    const fieldpath = this.fieldpath();

    const r = this.scanner.peek();
    if (r === rune(",") || r === EOF_RUNE) return new Selector(fieldpath, Operator.Present);

    const operator = this.operator();
    // `/re/` and `|re|` are only for regular expressions.
    const value = this.value(operator === Operator.Matches);
    if (operator !== Operator.Matches) return new Selector(fieldpath, operator, value);

    try {
      return new Selector(fieldpath, operator, value, compileGoRegexp(value));
    } catch (err) {
      if (err instanceof RegexpSyntaxError) throw this.error(this.input.length, err.message);
      throw err;
    }
  }

  private fieldpath(): string[] {
    const fields = [this.field()];
    while (this.scanner.peek() === rune(".")) {
      const { pos, token } = this.scanner.scan();
      if (token !== Token.Separator) throw this.error(pos, "expected a field separator (`.`)");
      fields.push(this.field());
    }
    return fields;
  }

  private field(): string {
    const { pos, token, text } = this.scanner.scan();
    switch (token) {
      case Token.Field:
        return text;
      case Token.Quoted:
        return this.unquote(pos, text, false);
      case Token.Illegal:
        throw this.error(pos, this.scanner.err);
      default:
        throw this.error(pos, "expected field or quoted");
    }
  }

  /**
   * containerd 1.6 has no `Illegal` case here (2.x added one), so a broken
   * token where an operator belongs reads "expected an operator".
   */
  private operator(): Operator {
    const { pos, token, text } = this.scanner.scan();
    if (token !== Token.Operator) throw this.error(pos, `expected an operator ("=="|"!="|"~=")`);
    switch (text) {
      case "==":
        return Operator.Equal;
      case "!=":
        return Operator.NotEqual;
      case "~=":
        return Operator.Matches;
      default:
        // The run holds only = ! ~, so Go's %q is plain double quoting.
        throw this.error(pos, `unsupported operator "${text}"`);
    }
  }

  private value(allowAltQuotes: boolean): string {
    const { pos, token, text } = this.scanner.scan();
    switch (token) {
      case Token.Value:
      case Token.Field:
        return text;
      case Token.Quoted:
        return this.unquote(pos, text, allowAltQuotes);
      case Token.Illegal:
        throw this.error(pos, this.scanner.err);
      default:
        throw this.error(pos, "expected value or quoted");
    }
  }

  private unquote(pos: number, text: string, allowAltQuotes: boolean): string {
    if (!allowAltQuotes && text[0] !== '"') throw this.error(pos, "invalid quote encountered");
    try {
      return unquote(text);
    } catch (err) {
      if (err instanceof QuoteSyntaxError) throw this.error(pos, `unquoting failed: ${err.message}`);
      throw err;
    }
  }

  /**
   * containerd's `parseError` wrapped as `filters: parse error: …`. Go slices
   * one byte at `pos`; purser takes the whole character there.
   */
  private error(pos: number, msg: string): PurserError {
    let location: string;
    if (pos < this.input.length) {
      const at = String.fromCodePoint(this.input.codePointAt(pos)!);
      location = `[${this.input.slice(0, pos)} >|${at}|< ${this.input.slice(pos + at.length)}]`;
    } else {
      location = `[${this.input}]`;
    }
    return invalidArgument(`filters: parse error: ${location}: ${msg}`);
  }
}
