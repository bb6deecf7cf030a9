/**
 * Table-driven tests of the filter language (conformance A.12), ported from
 * containerd's filters/scanner_test.go and filters/filter_test.go where they
 * apply to 1.6, plus purser's regular-expression divergence (5).
 */
import { test } from "node:test";
import assert from "node:assert/strict";

import { ErrorKind, PurserError } from "../src/errors/errdefs.js";
import {
  Always,
  adaptEnvelope,
  adaptObject,
  adaptRecord,
  mapField,
  nonEmpty,
  parseFilter,
  parseFilters,
  type Adaptor,
  type EnvelopeFields,
  type Filter,
} from "../src/filters/index.js";
import { RegexpSyntaxError, compileGoRegexp, goQuote } from "../src/filters/regexp.js";
import { QuoteSyntaxError, Scanner, Token, unquote } from "../src/filters/scanner.js";

/** Parses through the public API and returns the InvalidArgument it must throw. */
function parseError(inputs: readonly string[]): PurserError {
  try {
    parseFilters(inputs);
  } catch (err) {
    assert.ok(err instanceof PurserError, `expected a PurserError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(inputs)} to fail`);
}

function assertInvalidArgument(inputs: readonly string[], message: string): void {
  const err = parseError(inputs);
  assert.equal(err.kind, ErrorKind.InvalidArgument);
  assert.equal(err.message, message);
}

// ---------------------------------------------------------------------------
// Scanner (containerd filters/scanner_test.go). Positions are UTF-16 indices,
// so they differ from containerd's byte offsets only after non-ASCII input.

interface Tok {
  pos: number;
  token: Token;
  text?: string;
  err?: string;
}

const scannerCases: Array<{ name: string; input: string; expected: Tok[] }> = [
  {
    name: "Field",
    input: "name",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.EOF },
    ],
  },
  {
    name: "SelectorsWithOperators",
    input: "name==value,foo!=bar",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "==" },
      { pos: 6, token: Token.Value, text: "value" },
      { pos: 11, token: Token.Separator, text: "," },
      { pos: 12, token: Token.Field, text: "foo" },
      { pos: 15, token: Token.Operator, text: "!=" },
      { pos: 17, token: Token.Value, text: "bar" },
      { pos: 20, token: Token.EOF },
    ],
  },
  {
    name: "SelectorsWithFieldPaths",
    input: "name==value,labels.foo=value,other.bar~=match",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "==" },
      { pos: 6, token: Token.Value, text: "value" },
      { pos: 11, token: Token.Separator, text: "," },
      { pos: 12, token: Token.Field, text: "labels" },
      { pos: 18, token: Token.Separator, text: "." },
      { pos: 19, token: Token.Field, text: "foo" },
      { pos: 22, token: Token.Operator, text: "=" },
      { pos: 23, token: Token.Value, text: "value" },
      { pos: 28, token: Token.Separator, text: "," },
      { pos: 29, token: Token.Field, text: "other" },
      { pos: 34, token: Token.Separator, text: "." },
      { pos: 35, token: Token.Field, text: "bar" },
      { pos: 38, token: Token.Operator, text: "~=" },
      { pos: 40, token: Token.Value, text: "match" },
      { pos: 45, token: Token.EOF },
    ],
  },
  {
    name: "RegexpValue",
    input: "name~=[abc]+,foo=test",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "~=" },
      { pos: 6, token: Token.Value, text: "[abc]+" },
      { pos: 12, token: Token.Separator, text: "," },
      { pos: 13, token: Token.Field, text: "foo" },
      { pos: 16, token: Token.Operator, text: "=" },
      { pos: 17, token: Token.Value, text: "test" },
      { pos: 21, token: Token.EOF },
    ],
  },
  {
    name: "RegexpEscapedValue",
    input: String.raw`name~=[abc]\+,foo=test`,
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "~=" },
      { pos: 6, token: Token.Value, text: String.raw`[abc]\+` },
      { pos: 13, token: Token.Separator, text: "," },
      { pos: 14, token: Token.Field, text: "foo" },
      { pos: 17, token: Token.Operator, text: "=" },
      { pos: 18, token: Token.Value, text: "test" },
      { pos: 22, token: Token.EOF },
    ],
  },
  {
    name: "RegexpQuotedValue",
    input: "name~=/[abc]{0,2}/,foo=test",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "~=" },
      { pos: 6, token: Token.Quoted, text: "/[abc]{0,2}/" },
      { pos: 18, token: Token.Separator, text: "," },
      { pos: 19, token: Token.Field, text: "foo" },
      { pos: 22, token: Token.Operator, text: "=" },
      { pos: 23, token: Token.Value, text: "test" },
      { pos: 27, token: Token.EOF },
    ],
  },
  {
    name: "Cowsay",
    input: "name~=牛,labels.moo=true",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "~=" },
      { pos: 6, token: Token.Value, text: "牛" },
      { pos: 7, token: Token.Separator, text: "," },
      { pos: 8, token: Token.Field, text: "labels" },
      { pos: 14, token: Token.Separator, text: "." },
      { pos: 15, token: Token.Field, text: "moo" },
      { pos: 18, token: Token.Operator, text: "=" },
      { pos: 19, token: Token.Value, text: "true" },
      { pos: 23, token: Token.EOF },
    ],
  },
  {
    name: "CowsayRegexpQuoted",
    input: "name~=|牛|,labels.moo=true",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "~=" },
      { pos: 6, token: Token.Quoted, text: "|牛|" },
      { pos: 9, token: Token.Separator, text: "," },
      { pos: 10, token: Token.Field, text: "labels" },
      { pos: 16, token: Token.Separator, text: "." },
      { pos: 17, token: Token.Field, text: "moo" },
      { pos: 20, token: Token.Operator, text: "=" },
      { pos: 21, token: Token.Value, text: "true" },
      { pos: 25, token: Token.EOF },
    ],
  },
  {
    name: "Escapes",
    input: String.raw`name~="asdf\n\tfooo"`,
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "~=" },
      { pos: 6, token: Token.Quoted, text: String.raw`"asdf\n\tfooo"` },
      { pos: 20, token: Token.EOF },
    ],
  },
  {
    name: "NullInput",
    input: "foo\x00bar",
    expected: [
      { pos: 0, token: Token.Field, text: "foo" },
      { pos: 3, token: Token.Illegal, text: "", err: "unexpected null" },
      { pos: 4, token: Token.Field, text: "bar" },
      { pos: 7, token: Token.EOF },
    ],
  },
  {
    name: "RuneError",
    input: "a\ufffdb",
    expected: [
      { pos: 0, token: Token.Field, text: "a" },
      { pos: 1, token: Token.Illegal, text: "", err: "rune error" },
      { pos: 2, token: Token.Field, text: "b" },
      { pos: 3, token: Token.EOF },
    ],
  },
  {
    name: "LoneSurrogateIsARuneError",
    input: "a\ud800",
    expected: [
      { pos: 0, token: Token.Field, text: "a" },
      { pos: 1, token: Token.Illegal, text: "", err: "rune error" },
      { pos: 2, token: Token.EOF },
    ],
  },
  {
    name: "SpacesChomped",
    input: "foo = bar    ",
    expected: [
      { pos: 0, token: Token.Field, text: "foo" },
      { pos: 4, token: Token.Operator, text: "=" },
      { pos: 6, token: Token.Value, text: "bar" },
      { pos: 13, token: Token.EOF },
    ],
  },
  {
    name: "UnicodeSpacesChomped",
    input: "foo\u00a0==\u3000bar",
    expected: [
      { pos: 0, token: Token.Field, text: "foo" },
      { pos: 4, token: Token.Operator, text: "==" },
      { pos: 7, token: Token.Value, text: "bar" },
      { pos: 10, token: Token.EOF },
    ],
  },
  {
    name: "ValuesPunctuated",
    input: "compound.labels==punctuated_value.foo-bar",
    expected: [
      { pos: 0, token: Token.Field, text: "compound" },
      { pos: 8, token: Token.Separator, text: "." },
      { pos: 9, token: Token.Field, text: "labels" },
      { pos: 15, token: Token.Operator, text: "==" },
      { pos: 17, token: Token.Value, text: "punctuated_value.foo-bar" },
      { pos: 41, token: Token.EOF },
    ],
  },
  {
    name: "PartialInput",
    input: "interrupted=",
    expected: [
      { pos: 0, token: Token.Field, text: "interrupted" },
      { pos: 11, token: Token.Operator, text: "=" },
      { pos: 12, token: Token.EOF },
    ],
  },
  {
    name: "DoubleValue",
    input: "doublevalue=value value",
    expected: [
      { pos: 0, token: Token.Field, text: "doublevalue" },
      { pos: 11, token: Token.Operator, text: "=" },
      { pos: 12, token: Token.Value, text: "value" },
      { pos: 18, token: Token.Field, text: "value" },
      { pos: 23, token: Token.EOF },
    ],
  },
  {
    name: "LeadingWithQuoted",
    input: `"leading quote".postquote==value`,
    expected: [
      { pos: 0, token: Token.Quoted, text: `"leading quote"` },
      { pos: 15, token: Token.Separator, text: "." },
      { pos: 16, token: Token.Field, text: "postquote" },
      { pos: 25, token: Token.Operator, text: "==" },
      { pos: 27, token: Token.Value, text: "value" },
      { pos: 32, token: Token.EOF },
    ],
  },
  {
    name: "MissingValue",
    input: "input==,id!=ff",
    expected: [
      { pos: 0, token: Token.Field, text: "input" },
      { pos: 5, token: Token.Operator, text: "==" },
      { pos: 7, token: Token.Separator, text: "," },
      { pos: 8, token: Token.Field, text: "id" },
      { pos: 10, token: Token.Operator, text: "!=" },
      { pos: 12, token: Token.Value, text: "ff" },
      { pos: 14, token: Token.EOF },
    ],
  },
  {
    name: "QuotedRegexp",
    input: String.raw`input~=/foo\/bar/,id!=ff`,
    expected: [
      { pos: 0, token: Token.Field, text: "input" },
      { pos: 5, token: Token.Operator, text: "~=" },
      { pos: 7, token: Token.Quoted, text: String.raw`/foo\/bar/` },
      { pos: 17, token: Token.Separator, text: "," },
      { pos: 18, token: Token.Field, text: "id" },
      { pos: 20, token: Token.Operator, text: "!=" },
      { pos: 22, token: Token.Value, text: "ff" },
      { pos: 24, token: Token.EOF },
    ],
  },
  {
    name: "QuotedRegexpAlt",
    input: "input~=|foo/bar|,id!=ff",
    expected: [
      { pos: 0, token: Token.Field, text: "input" },
      { pos: 5, token: Token.Operator, text: "~=" },
      { pos: 7, token: Token.Quoted, text: "|foo/bar|" },
      { pos: 16, token: Token.Separator, text: "," },
      { pos: 17, token: Token.Field, text: "id" },
      { pos: 19, token: Token.Operator, text: "!=" },
      { pos: 21, token: Token.Value, text: "ff" },
      { pos: 23, token: Token.EOF },
    ],
  },
  {
    name: "IllegalQuoted",
    input: "labels.containerd.io/key==value",
    expected: [
      { pos: 0, token: Token.Field, text: "labels" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Field, text: "containerd" },
      { pos: 17, token: Token.Separator, text: "." },
      { pos: 18, token: Token.Field, text: "io" },
      { pos: 20, token: Token.Illegal, text: "/key==value", err: "quoted literal not terminated" },
      { pos: 31, token: Token.EOF },
    ],
  },
  {
    name: "IllegalQuotedWithNewLine",
    input: 'labels."containerd.io\nkey"==value',
    expected: [
      { pos: 0, token: Token.Field, text: "labels" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Illegal, text: '"containerd.io\n', err: "quoted literal not terminated" },
      { pos: 22, token: Token.Field, text: "key" },
      { pos: 25, token: Token.Illegal, text: '"==value', err: "quoted literal not terminated" },
      { pos: 33, token: Token.EOF },
    ],
  },
  {
    name: "IllegalEscapeSequence",
    input: String.raw`labels."\g"`,
    expected: [
      { pos: 0, token: Token.Field, text: "labels" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Illegal, text: String.raw`"\g"`, err: "illegal escape sequence" },
      { pos: 11, token: Token.EOF },
    ],
  },
  {
    name: "IllegalNumericEscapeSequence",
    input: String.raw`labels."\xaz"`,
    expected: [
      { pos: 0, token: Token.Field, text: "labels" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Illegal, text: String.raw`"\xaz"`, err: "illegal numeric escape sequence" },
      { pos: 13, token: Token.EOF },
    ],
  },
  {
    name: "FirstErrorSticks",
    input: String.raw`a."\g"."b`,
    expected: [
      { pos: 0, token: Token.Field, text: "a" },
      { pos: 1, token: Token.Separator, text: "." },
      { pos: 2, token: Token.Illegal, text: String.raw`"\g"`, err: "illegal escape sequence" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Illegal, text: `"b`, err: "illegal escape sequence" },
      { pos: 9, token: Token.EOF },
    ],
  },
  {
    name: "EscapedDelimiterOnlyInItsOwnQuotes",
    input: String.raw`"\/"|\||`,
    expected: [
      { pos: 0, token: Token.Illegal, text: String.raw`"\/"`, err: "illegal escape sequence" },
      { pos: 4, token: Token.Quoted, text: String.raw`|\||` },
      { pos: 8, token: Token.EOF },
    ],
  },
  {
    // containerd 1.6 has no `-` among field runes (2.x added it).
    name: "DashIsNotAFieldRune",
    input: "labels.fo-obr==bla",
    expected: [
      { pos: 0, token: Token.Field, text: "labels" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Field, text: "fo" },
      { pos: 9, token: Token.Char, text: "-" },
      { pos: 10, token: Token.Field, text: "obr" },
      { pos: 13, token: Token.Operator, text: "==" },
      { pos: 15, token: Token.Value, text: "bla" },
      { pos: 18, token: Token.EOF },
    ],
  },
  {
    name: "LeadingDigitField",
    input: "9abc==x",
    expected: [
      { pos: 0, token: Token.Field, text: "9abc" },
      { pos: 4, token: Token.Operator, text: "==" },
      { pos: 6, token: Token.Value, text: "x" },
      { pos: 7, token: Token.EOF },
    ],
  },
  {
    name: "SingleQuoteIsNotAQuote",
    input: "name=='x y'",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "==" },
      { pos: 6, token: Token.Value, text: "'x" },
      { pos: 9, token: Token.Field, text: "y" },
      { pos: 10, token: Token.Char, text: "'" },
      { pos: 11, token: Token.EOF },
    ],
  },
  {
    name: "SeparatorBeforeValue",
    input: "name==.x",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "==" },
      { pos: 6, token: Token.Separator, text: "." },
      { pos: 7, token: Token.Field, text: "x" },
      { pos: 8, token: Token.EOF },
    ],
  },
  {
    name: "OperatorIsARun",
    input: "name=~!x",
    expected: [
      { pos: 0, token: Token.Field, text: "name" },
      { pos: 4, token: Token.Operator, text: "=~!" },
      { pos: 7, token: Token.Value, text: "x" },
      { pos: 8, token: Token.EOF },
    ],
  },
  {
    name: "ValueKeepsPunctuationAfterFirstRune",
    input: "a==b=c.d/e~f,g",
    expected: [
      { pos: 0, token: Token.Field, text: "a" },
      { pos: 1, token: Token.Operator, text: "==" },
      { pos: 3, token: Token.Value, text: "b=c.d/e~f" },
      { pos: 12, token: Token.Separator, text: "," },
      { pos: 13, token: Token.Field, text: "g" },
      { pos: 14, token: Token.EOF },
    ],
  },
  {
    name: "ValueStopsAtControlRune",
    input: "a==b\x01c",
    expected: [
      { pos: 0, token: Token.Field, text: "a" },
      { pos: 1, token: Token.Operator, text: "==" },
      { pos: 3, token: Token.Value, text: "b" },
      { pos: 4, token: Token.Char, text: "\x01" },
      { pos: 5, token: Token.Field, text: "c" },
      { pos: 6, token: Token.EOF },
    ],
  },
];

test("scanner", async (t) => {
  for (const c of scannerCases) {
    await t.test(c.name, () => {
      const sc = new Scanner(c.input);
      const got: Tok[] = [];
      for (let i = 0; i <= c.expected.length; i++) {
        const { pos, token, text } = sc.scan();
        const tok: Tok = token === Token.EOF ? { pos, token } : { pos, token, text };
        if (token === Token.Illegal) tok.err = sc.err;
        got.push(tok);
        if (token === Token.EOF) break;
      }
      assert.deepEqual(got, c.expected);
      assert.equal(sc.scan().token, Token.EOF, "must stay at EOF");
    });
  }
});

// ---------------------------------------------------------------------------
// Unquoting (containerd filters/quote.go: Go string syntax, `/` and `|` as
// double quotes).

const unquoteCases: Array<{ name: string; input: string; want?: string }> = [
  { name: "Plain", input: `"abc"`, want: "abc" },
  { name: "Empty", input: `""`, want: "" },
  { name: "NonAscii", input: `"é牛"`, want: "é牛" },
  { name: "SingleCharEscapes", input: String.raw`"\a\b\f\n\r\t\v\\"`, want: "\x07\b\f\n\r\t\v\\" },
  { name: "EscapedDoubleQuote", input: String.raw`"a\"b"`, want: 'a"b' },
  { name: "Hex", input: String.raw`"\x41"`, want: "A" },
  { name: "HexBytesFormUtf8", input: String.raw`"\xc3\xa9"`, want: "é" },
  { name: "HexInvalidUtf8Byte", input: String.raw`"\xff"`, want: "\ufffd" },
  { name: "Octal", input: String.raw`"\101\000"`, want: "A\x00" },
  { name: "Unicode4", input: String.raw`"\u00e9"`, want: "é" },
  { name: "Unicode8", input: String.raw`"\U0001F600"`, want: "😀" },
  { name: "UnicodeSurrogateBecomesReplacement", input: String.raw`"\ud800"`, want: "\ufffd" },
  { name: "SlashQuoted", input: String.raw`/a\/b/`, want: "a/b" },
  { name: "PipeQuoted", input: String.raw`|a\|b|`, want: "a|b" },
  { name: "SlashInsidePipes", input: "|a/b|", want: "a/b" },
  { name: "ByteOrderMarkKept", input: `"\ufeffx"`, want: "\ufeffx" },
  { name: "OctalAbove255", input: String.raw`"\777"` },
  { name: "ShortHex", input: String.raw`"\x4"` },
  { name: "BadHex", input: String.raw`"\xzz"` },
  { name: "RuneAboveMax", input: String.raw`"\U00110000"` },
  { name: "UnknownEscape", input: String.raw`"\q"` },
  { name: "OtherDelimiterEscaped", input: String.raw`"\/"` },
  { name: "DoubleQuoteEscapedInSlashes", input: String.raw`/\"/` },
  { name: "SingleQuoteEscape", input: String.raw`"\'"` },
  { name: "UnescapedQuoteInside", input: `"a"b"` },
  { name: "TrailingBackslash", input: '"a\\"' },
  { name: "Newline", input: '"a\nb"' },
  { name: "Mismatched", input: `"abc/` },
  { name: "SingleQuotesAreNotQuotes", input: "'a'" },
  { name: "TooShort", input: '"' },
];

test("unquote", async (t) => {
  for (const c of unquoteCases) {
    await t.test(c.name, () => {
      if (c.want === undefined) {
        assert.throws(() => unquote(c.input), (err: unknown) => err instanceof QuoteSyntaxError && err.message === "quote syntax error");
      } else {
        assert.equal(unquote(c.input), c.want);
      }
    });
  }
});

// ---------------------------------------------------------------------------
// Parse errors: exact wire text, as ParseAll reports it.

const errorCases: Array<{ name: string; input: string; message: string }> = [
  // from containerd filters/filter_test.go
  {
    name: "LabelValueNoAltQuoting",
    input: "labels.|foo|==omg_asdf.asdf-qwer",
    message: "filters: parse error: [labels. >|||< foo|==omg_asdf.asdf-qwer]: invalid quote encountered: invalid argument",
  },
  {
    name: "LabelQuotedFieldPathPresentWithQuotedEmbedInvalid",
    input: String.raw`labels.?"more complex label with \\ and \"".post==present`,
    message: String.raw`filters: parse error: [labels. >|?|< "more complex label with \\ and \"".post==present]: expected field or quoted: invalid argument`,
  },
  {
    name: "TrailingComma",
    input: "name==foo,",
    message: "filters: parse error: [name==foo,]: expected field or quoted: invalid argument",
  },
  {
    name: "TrailingFieldSeparator",
    input: "labels.",
    message: "filters: parse error: [labels.]: expected field or quoted: invalid argument",
  },
  {
    name: "MissingValue",
    input: "image~=,id?=?fbaq",
    message: "filters: parse error: [image~= >|,|< id?=?fbaq]: expected value or quoted: invalid argument",
  },
  {
    name: "ValueQuotedLiteralNotTerminated",
    input: "labels.key==/value",
    message: "filters: parse error: [labels.key== >|/|< value]: quoted literal not terminated: invalid argument",
  },
  // observed on containerd 1.6.20 (conformance A.12, A.13)
  {
    name: "ValueStartsWithDot",
    input: "name==.x",
    message: "filters: parse error: [name== >|.|< x]: expected value or quoted: invalid argument",
  },
  {
    name: "ValueMissingAtEnd",
    input: "topic==",
    message: "filters: parse error: [topic==]: expected value or quoted: invalid argument",
  },
  {
    name: "SlashQuotedValueOutsideMatches",
    input: "name==/x/",
    message: "filters: parse error: [name== >|/|< x/]: invalid quote encountered: invalid argument",
  },
  {
    name: "PipeQuotedValueOutsideMatches",
    input: "name!=|x|",
    message: "filters: parse error: [name!= >|||< x|]: invalid quote encountered: invalid argument",
  },
  {
    name: "SlashQuotedField",
    input: "labels./a/==x",
    message: "filters: parse error: [labels. >|/|< a/==x]: invalid quote encountered: invalid argument",
  },
  // operators
  {
    name: "OperatorEqualsTilde",
    input: "name=~x",
    message: `filters: parse error: [name >|=|< ~x]: unsupported operator "=~": invalid argument`,
  },
  {
    name: "OperatorTripleEquals",
    input: "name===x",
    message: `filters: parse error: [name >|=|< ==x]: unsupported operator "===": invalid argument`,
  },
  {
    // a single `=` came with containerd 2.x
    name: "OperatorSingleEquals",
    input: "name=x",
    message: `filters: parse error: [name >|=|< x]: unsupported operator "=": invalid argument`,
  },
  {
    name: "OperatorBang",
    input: "name!x",
    message: `filters: parse error: [name >|!|< x]: unsupported operator "!": invalid argument`,
  },
  {
    name: "ExpectedOperator",
    input: "name?x",
    message: `filters: parse error: [name >|?|< x]: expected an operator ("=="|"!="|"~="): invalid argument`,
  },
  {
    name: "DashInField",
    input: "labels.fo-obr==bla",
    message: `filters: parse error: [labels.fo >|-|< obr==bla]: expected an operator ("=="|"!="|"~="): invalid argument`,
  },
  {
    // containerd 1.6 reports no scanner error where an operator is expected.
    name: "UnterminatedQuoteWhereOperatorBelongs",
    input: "labels.ns/key==value",
    message: `filters: parse error: [labels.ns >|/|< key==value]: expected an operator ("=="|"!="|"~="): invalid argument`,
  },
  {
    name: "NullWhereOperatorBelongs",
    input: "foo\x00bar",
    message: `filters: parse error: [foo >|\x00|< bar]: expected an operator ("=="|"!="|"~="): invalid argument`,
  },
  // whitespace: skipped before tokens, but the lookahead after a selector does not skip it
  {
    name: "TrailingSpace",
    input: "name==x ",
    message: "filters: parse error: [name==x >| |< ]: unexpected input:  : invalid argument",
  },
  {
    name: "SpaceBeforeComma",
    input: "name==x ,a",
    message: "filters: parse error: [name==x >| |< ,a]: unexpected input:  : invalid argument",
  },
  {
    name: "OnlySpace",
    input: " ",
    message: "filters: parse error: [ ]: expected field or quoted: invalid argument",
  },
  {
    name: "InputAfterQuotedValue",
    input: 'name=="x"y',
    message: 'filters: parse error: [name=="x" >|y|< ]: unexpected input: y: invalid argument',
  },
  // selectors and field paths
  {
    name: "LeadingComma",
    input: ",name",
    message: "filters: parse error: [ >|,|< name]: expected field or quoted: invalid argument",
  },
  {
    name: "DoubleComma",
    input: "name,,a",
    message: "filters: parse error: [name, >|,|< a]: expected field or quoted: invalid argument",
  },
  {
    name: "LeadingDot",
    input: ".name",
    message: "filters: parse error: [ >|.|< name]: expected field or quoted: invalid argument",
  },
  {
    name: "MultibyteAtErrorPosition",
    input: "牛==x",
    message: "filters: parse error: [ >|牛|< ==x]: expected field or quoted: invalid argument",
  },
  // scanner errors
  {
    name: "FieldNotTerminated",
    input: 'labels."a\nb"==x',
    message: 'filters: parse error: [labels. >|"|< a\nb"==x]: quoted literal not terminated: invalid argument',
  },
  {
    name: "FieldIllegalEscape",
    input: String.raw`labels."\g"`,
    message: String.raw`filters: parse error: [labels. >|"|< \g"]: illegal escape sequence: invalid argument`,
  },
  {
    name: "FieldIllegalNumericEscape",
    input: String.raw`labels."\xaz"`,
    message: String.raw`filters: parse error: [labels. >|"|< \xaz"]: illegal numeric escape sequence: invalid argument`,
  },
  {
    name: "EscapedSlashInDoubleQuotes",
    input: String.raw`name=="a\/b"`,
    message: String.raw`filters: parse error: [name== >|"|< a\/b"]: illegal escape sequence: invalid argument`,
  },
  {
    name: "EscapedDoubleQuoteInSlashes",
    input: String.raw`name~=/a\"b/`,
    message: String.raw`filters: parse error: [name~= >|/|< a\"b/]: illegal escape sequence: invalid argument`,
  },
  {
    name: "UnquotingFailed",
    input: String.raw`a=="\777"`,
    message: String.raw`filters: parse error: [a== >|"|< \777"]: unquoting failed: quote syntax error: invalid argument`,
  },
  {
    name: "NullAsField",
    input: "\x00",
    message: "filters: parse error: [ >|\x00|< ]: unexpected null: invalid argument",
  },
  {
    name: "NullAsValue",
    input: "name==\x00",
    message: "filters: parse error: [name== >|\x00|< ]: unexpected null: invalid argument",
  },
  {
    name: "RuneErrorAsValue",
    input: "name==\ufffd",
    message: "filters: parse error: [name== >|\ufffd|< ]: rune error: invalid argument",
  },
  {
    name: "NullAfterValue",
    input: "name==x\x00",
    message: "filters: parse error: [name==x >|\x00|< ]: unexpected input: \ufffd: invalid argument",
  },
  // invalid regular expressions: purser divergence 5, reported at parse time
  {
    name: "InvalidRegexp",
    input: "name~=/a(/",
    message: "filters: parse error: [name~=/a(/]: error compiling regexp \"a(\": missing closing ): `a(`: invalid argument",
  },
  {
    name: "InvalidRegexpUnquoted",
    input: "name~=a(,labels.x",
    message: "filters: parse error: [name~=a(,labels.x]: error compiling regexp \"a(\": missing closing ): `a(`: invalid argument",
  },
  {
    name: "InvalidRegexpBackreference",
    input: String.raw`name~=(a)\1`,
    message: String.raw`filters: parse error: [name~=(a)\1]: error compiling regexp "(a)\\1": invalid escape sequence: ` + "`\\1`: invalid argument",
  },
  {
    name: "InvalidRegexpLookahead",
    input: "name~=a(?=b)",
    message: "filters: parse error: [name~=a(?=b)]: error compiling regexp \"a(?=b)\": invalid or unsupported Perl syntax: `(?=`: invalid argument",
  },
];

test("parse errors", async (t) => {
  for (const c of errorCases) {
    await t.test(c.name, () => assertInvalidArgument([c.input], c.message));
  }

  await t.test("ErrorCarriesDetailWithoutClass", () => {
    const err = parseError(["topic=="]);
    assert.equal(err.detail, "filters: parse error: [topic==]: expected value or quoted");
  });

  await t.test("ParseFilterThrowsTheSameError", () => {
    assert.throws(
      () => parseFilter("name==.x"),
      (err: unknown) =>
        err instanceof PurserError &&
        err.kind === ErrorKind.InvalidArgument &&
        err.message === "filters: parse error: [name== >|.|< x]: expected value or quoted: invalid argument",
    );
  });

  await t.test("AnyStringFailingFailsTheWhole", () => {
    assertInvalidArgument(["name==x", "", "topic=="], "filters: parse error: [topic==]: expected value or quoted: invalid argument");
  });
});

// ---------------------------------------------------------------------------
// containerd filters/filter_test.go TestFilters, with its corpus.

interface Entry {
  name?: string;
  other?: string;
  labels?: Record<string, string>;
}

const corpus: readonly Entry[] = [
  { name: "foo", labels: { foo: "true" } },
  { name: "bar" },
  { name: "foo", labels: { foo: "present", "more complex label": "present" } },
  { name: "bar", labels: { bar: "true" } },
  { name: "fooer", labels: { 'more complex label with \\ and "': "present" } },
  { name: "fooer", labels: { 'more complex label with \\ and ".post': "present" } },
  { name: "baz", other: "too complex, yo" },
  { name: "bazo", other: "abc" },
  { name: "compound", labels: { foo: "omg_asdf.asdf-qwer" } },
];

/** The example adaptor of containerd's test, built from purser's helpers. */
function adaptEntry(entry: Entry): Adaptor {
  return adaptRecord({
    name: () => nonEmpty(entry.name),
    other: () => nonEmpty(entry.other),
    labels: (rest) => mapField(entry.labels, rest),
  });
}

function matching(filter: Filter, items: readonly Entry[] = corpus): number[] {
  return items.flatMap((item, i) => (filter.match(adaptEntry(item)) ? [i] : []));
}

const all = corpus.map((_, i) => i);

const filterCases: Array<{ name: string; input: string; expected: number[] }> = [
  { name: "Empty", input: "", expected: all },
  { name: "Present", input: "name", expected: all },
  { name: "LabelPresent", input: "labels.foo", expected: [0, 2, 8] },
  { name: "NameAndLabelPresent", input: "labels.foo,name", expected: [0, 2, 8] },
  { name: "LabelValue", input: "labels.foo==true", expected: [0] },
  { name: "LabelValuePunctuated", input: "labels.foo==omg_asdf.asdf-qwer", expected: [8] },
  { name: "Name", input: "name==bar", expected: [1, 3] },
  { name: "NameNotEqual", input: "name!=bar", expected: [0, 2, 4, 5, 6, 7, 8] },
  { name: "NameAndLabelPresent2", input: "name==bar,labels.bar", expected: [3] },
  { name: "QuotedValue", input: `other=="too complex, yo"`, expected: [6] },
  { name: "RegexpValue", input: "other~=[abc]+,name!=foo", expected: [6, 7] },
  { name: "RegexpQuotedValue", input: "other~=/[abc]+/,name!=foo", expected: [6, 7] },
  { name: "RegexpQuotedValueRepeat", input: "other~=/[abc]{1,2}/,name!=foo", expected: [6, 7] },
  // valid syntax, but matches nothing
  { name: "RegexpQuotedValueGarbage", input: String.raw`other~=/[abc]{0,1}"\//,name!=foo`, expected: [] },
  { name: "NameAndLabelValue", input: "name==bar,labels.bar==true", expected: [3] },
  { name: "NameAndLabelValueNoMatch", input: "name==bar,labels.bar==wrong", expected: [] },
  { name: "LabelQuotedFieldPathPresent", input: `name==foo,labels."more complex label"`, expected: [2] },
  {
    name: "LabelQuotedFieldPathPresentWithQuoted",
    input: String.raw`labels."more complex label with \\ and \""==present`,
    expected: [4],
  },
  {
    name: "LabelQuotedFieldPathPresentWithQuotedEmbed",
    input: String.raw`labels."more complex label with \\ and \"".post==present`,
    expected: [5],
  },
  // conformance A.12 additions
  // whitespace is skipped before a token, not before a comma (see TrailingSpace)
  { name: "WhitespaceBetweenTokens", input: " name == bar, labels.bar", expected: [3] },
  { name: "RegexpUnanchored", input: "name~=oo", expected: [0, 2, 4, 5] },
  { name: "RegexpAnchored", input: "name~=^foo$", expected: [0, 2] },
  { name: "RegexpPipeQuoted", input: "name~=|^ba.$|", expected: [1, 3, 6] },
  { name: "RegexpCaseInsensitive", input: "name~=(?i)^FOO$", expected: [0, 2] },
  // containerd tests an absent field as "": it matches `!=`, and `~=` on ""
  { name: "NotEqualMatchesAbsentField", input: "labels.foo!=true", expected: [1, 2, 3, 4, 5, 6, 7, 8] },
  { name: "NotEqualEmptyIsPresence", input: `other!=""`, expected: [6, 7] },
  { name: "RegexpTestsAbsentFieldAsEmpty", input: "other~=^$", expected: [0, 1, 2, 3, 4, 5, 8] },
  { name: "EqualNeedsPresence", input: `other==""`, expected: [] },
];

test("filters (containerd TestFilters)", async (t) => {
  for (const c of filterCases) {
    await t.test(c.name, () => {
      assert.deepEqual(matching(parseFilters([c.input])), c.expected);
      assert.deepEqual(matching(parseFilter(c.input)), c.expected);
    });
  }
});

// ---------------------------------------------------------------------------
// ParseAll: OR of strings, AND within one; Always for nothing.

const labelled: readonly Entry[] = [
  { name: "a", labels: { "a.b": "x", "": "empty-key" } },
  { name: "b", labels: {} },
  { name: "c", labels: { a: "x" } },
  { name: "9abc", labels: { "a b": "x", flag: "" } },
  { name: "'x'" },
  { name: "x" },
];

const parseAllCases: Array<{ name: string; inputs: string[]; expected: number[] }> = [
  { name: "NoStrings", inputs: [], expected: [0, 1, 2, 3, 4, 5] },
  { name: "SingleEmptyString", inputs: [""], expected: [0, 1, 2, 3, 4, 5] },
  { name: "EmptyStringAmongOthers", inputs: ["name==none", ""], expected: [0, 1, 2, 3, 4, 5] },
  { name: "SeveralStringsAreOred", inputs: ["name==a", "name==c"], expected: [0, 2] },
  { name: "CommaIsAnd", inputs: ["name==a,labels.a.b==x"], expected: [0] },
  { name: "CommaIsAndNoMatch", inputs: ["name==c,labels.a.b==x"], expected: [] },
  { name: "DottedPathIsOneMapKey", inputs: ["labels.a.b"], expected: [0] },
  { name: "DottedPathIsNotNested", inputs: ["labels.a"], expected: [2] },
  { name: "LabelsAloneIsTheEmptyKey", inputs: ["labels"], expected: [0] },
  { name: "EmptyMapNotEqual", inputs: ["labels.a!=x"], expected: [0, 1, 3, 4, 5] },
  { name: "QuotedFieldWithSpace", inputs: [`labels."a b"==x`], expected: [3] },
  { name: "LabelWithEmptyValueIsPresent", inputs: ["labels.flag"], expected: [3] },
  { name: "LabelWithEmptyValueEqualsEmpty", inputs: [`labels.flag==""`], expected: [3] },
  { name: "LeadingDigitField", inputs: ["name==9abc"], expected: [3] },
  { name: "LeadingDigitFieldName", inputs: ["9abc==x"], expected: [] },
  { name: "SingleQuotesAreLiteral", inputs: ["name=='x'"], expected: [4] },
  { name: "DoubleQuotesAreNot", inputs: [`name=="x"`], expected: [5] },
  { name: "EscapesInQuotedValue", inputs: [String.raw`name=="\x39\u0061bc"`], expected: [3] },
  { name: "EscapedSlashInRegexp", inputs: [String.raw`name~=/^\/?a$/`], expected: [0] },
];

test("parseFilters", async (t) => {
  for (const c of parseAllCases) {
    await t.test(c.name, () => assert.deepEqual(matching(parseFilters(c.inputs), labelled), c.expected));
  }

  await t.test("NothingIsAlways", () => {
    assert.equal(parseFilters([]), Always);
    assert.equal(parseFilters([""]), Always);
    assert.equal(parseFilter(""), Always);
  });
});

// ---------------------------------------------------------------------------
// Go RE2 → JavaScript.

const regexpCases: Array<{ name: string; pattern: string; matches: string[]; rejects: string[] }> = [
  { name: "Unanchored", pattern: "bc", matches: ["abcd"], rejects: ["bd"] },
  { name: "CaseInsensitiveFlag", pattern: "(?i)^abc$", matches: ["ABC", "abc"], rejects: ["abd"] },
  { name: "DotAllFlag", pattern: "(?s)^a.b$", matches: ["a\nb"], rejects: [] },
  { name: "CombinedFlags", pattern: "(?is)^A.B$", matches: ["a\nb"], rejects: [] },
  { name: "RepeatedFlagGroups", pattern: "(?i)(?s)^A.B$", matches: ["a\nb"], rejects: [] },
  { name: "FlagsTurnedOff", pattern: "(?i)(?-i)^abc$", matches: ["abc"], rejects: ["ABC"] },
  { name: "MultiLineFlag", pattern: "(?m)^b$", matches: ["a\nb\nc"], rejects: ["abc"] },
  { name: "NoMultiLineByDefault", pattern: "^b$", matches: ["b"], rejects: ["a\nb\nc"] },
  { name: "DotStopsOnlyAtNewline", pattern: "^a.b$", matches: ["a\rb", "a\u2028b"], rejects: ["a\nb"] },
  { name: "DotIsOneRune", pattern: "^.$", matches: ["😀"], rejects: ["ab"] },
  { name: "SpaceIsAscii", pattern: "^\\s$", matches: [" ", "\t", "\n"], rejects: ["\v", "\u00a0"] },
  { name: "NotSpaceIsAscii", pattern: "^\\S$", matches: ["\v", "x"], rejects: [" "] },
  { name: "SpaceInClass", pattern: "^[\\sx]+$", matches: [" x\t"], rejects: ["\v"] },
  { name: "NotSpaceInClass", pattern: "^[\\S]+$", matches: ["\vx"], rejects: [" "] },
  { name: "PosixClass", pattern: "^[[:alpha:]]+$", matches: ["abcXYZ"], rejects: ["ab1"] },
  { name: "NegatedPosixClass", pattern: "^[[:^digit:]]+$", matches: ["abc"], rejects: ["a1"] },
  { name: "UnicodeCategory", pattern: "^\\pL+$", matches: ["héllo"], rejects: ["h1"] },
  { name: "UnicodeScript", pattern: "^\\p{Greek}+$", matches: ["αβγ"], rejects: ["abc"] },
  { name: "NegatedUnicodeScript", pattern: "^\\p{^Greek}+$", matches: ["abc"], rejects: ["αβγ"] },
  { name: "UppercaseNegation", pattern: "^\\PN+$", matches: ["abc"], rejects: ["a1"] },
  { name: "HexBraced", pattern: "^\\x{1F600}$", matches: ["😀"], rejects: [] },
  { name: "HexTwoDigits", pattern: "^\\x41$", matches: ["A"], rejects: [] },
  { name: "Octal", pattern: "^\\101\\0$", matches: ["A\x00"], rejects: [] },
  { name: "QuotedLiteral", pattern: "^\\Q.*+\\E$", matches: [".*+"], rejects: ["abc"] },
  { name: "NamedGroup", pattern: "^(?P<x>a)(?<y>b)$", matches: ["ab"], rejects: [] },
  { name: "NonCapturingGroup", pattern: "^(?:ab)+$", matches: ["abab"], rejects: ["aba"] },
  { name: "LiteralBrace", pattern: "^a{,2}$", matches: ["a{,2}"], rejects: ["aa"] },
  { name: "LiteralClosers", pattern: "^a}]$", matches: ["a}]"], rejects: [] },
  { name: "Repeat", pattern: "^a{2,3}$", matches: ["aa", "aaa"], rejects: ["a", "aaaa"] },
  { name: "RepeatOpen", pattern: "^a{2,}$", matches: ["aaaaa"], rejects: ["a"] },
  { name: "ClosingBracketFirstInClass", pattern: "^[]a]+$", matches: ["]a]"], rejects: ["b"] },
  { name: "NegatedClassWithBracket", pattern: "^[^]a]$", matches: ["b"], rejects: ["]", "a"] },
  { name: "DashLiteralAtEnds", pattern: "^[-a-]+$", matches: ["-a-"], rejects: ["b"] },
  { name: "DashAfterPerlClass", pattern: "^[\\d-z]+$", matches: ["1-z"], rejects: ["a"] },
  { name: "RangeOfEscapes", pattern: "^[\\x41-\\x43]+$", matches: ["ABC"], rejects: ["D"] },
  { name: "EscapedPunctuation", pattern: "^\\#\\-\\_\\!\\:$", matches: ["#-_!:"], rejects: [] },
  { name: "TextAnchors", pattern: "\\Aab\\z", matches: ["ab"], rejects: ["ab\n", "xab"] },
  { name: "TextAnchorsUnderMultiLine", pattern: "(?m)\\Ab$", matches: ["b\nc"], rejects: ["a\nb"] },
  { name: "WordBoundary", pattern: "\\bfoo\\b", matches: ["a foo b"], rejects: ["afoob"] },
  { name: "Alternation", pattern: "^(foo|bar)$", matches: ["foo", "bar"], rejects: ["baz"] },
  { name: "LazyQuantifier", pattern: "^a+?$", matches: ["aaa"], rejects: [] },
  { name: "InlineFlagsMidPattern", pattern: "^a(?i)b$", matches: ["ab", "aB"], rejects: ["AB"] },
  { name: "FlagGroup", pattern: "^(?i:a)b$", matches: ["Ab"], rejects: ["AB"] },
  { name: "LeadingFlags", pattern: "(?is)^a.b$", matches: ["A\nb"], rejects: ["A\nc"] },
  { name: "SlashIsLiteral", pattern: "^/namespaces/.*", matches: ["/namespaces/create"], rejects: ["/images/create"] },
];

test("regexp translation", async (t) => {
  for (const c of regexpCases) {
    await t.test(c.name, () => {
      const re = compileGoRegexp(c.pattern);
      for (const s of c.matches) assert.ok(re.test(s), `${c.pattern} should match ${JSON.stringify(s)}`);
      for (const s of c.rejects) assert.ok(!re.test(s), `${c.pattern} should not match ${JSON.stringify(s)}`);
    });
  }

  await t.test("linear time: nested quantifiers over a 10 KiB subject answer at once (RE2, no backtracking)", () => {
    // A backtracking engine needs 2^n steps here; RE2 needs n. No timing is asserted: a backtracking
    // engine would not return within the test's lifetime.
    const subject = "a".repeat(10 * 1024) + "!";
    for (const pattern of ["^(a+)+$", "^(a|a)+$", "^(.+)+@$", "(a*)*b"]) assert.equal(compileGoRegexp(pattern).test(subject), false, pattern);
  });
});

const regexpErrorCases: Array<{ name: string; pattern: string; reason: string }> = [
  { name: "UnterminatedGroup", pattern: "a(", reason: "missing closing ): `a(`" },
  { name: "NothingToRepeat", pattern: "**", reason: "missing argument to repetition operator: `*`" },
  { name: "Lookahead", pattern: "(?=a)", reason: "invalid or unsupported Perl syntax: `(?=`" },
  { name: "Lookbehind", pattern: "(?<!a)", reason: "invalid named capture: `(?<!a)`" },
  { name: "Backreference", pattern: "(a)\\1", reason: "invalid escape sequence: `\\1`" },
  { name: "EightIsNotOctal", pattern: "\\8", reason: "invalid escape sequence: `\\8`" },
  { name: "NamedBackreference", pattern: "\\k<x>", reason: "invalid escape sequence: `\\k`" },
  { name: "JsUnicodeEscape", pattern: "\\u0041", reason: "invalid escape sequence: `\\u`" },
  { name: "NonAsciiEscape", pattern: "\\é", reason: "invalid escape sequence: `\\é`" },
  { name: "ShortHex", pattern: "\\x4", reason: "invalid escape sequence: `\\x4`" },
  { name: "RepeatTooLarge", pattern: "a{1001}", reason: "invalid repeat count: `{1001}`" },
  { name: "RepeatOutOfOrder", pattern: "a{3,2}", reason: "invalid repeat count: `{3,2}`" },
  { name: "MissingClosingBracket", pattern: "[a", reason: "missing closing ]: `[a`" },
  { name: "ReversedRange", pattern: "[z-a]", reason: "invalid character class range: `z-a`" },
  { name: "UnknownPosixClass", pattern: "[[:foo:]]", reason: "invalid character class range: `[:foo:]`" },
  { name: "UnknownUnicodeClass", pattern: "\\p{Nope}", reason: "invalid character class range: `\\p{Nope}`" },
  { name: "TrailingBackslash", pattern: "a\\", reason: "trailing backslash at end of expression" },
  { name: "WordBoundaryInClass", pattern: "[\\b]", reason: "invalid escape sequence: `\\b`" },
];

test("regexp errors", async (t) => {
  for (const c of regexpErrorCases) {
    await t.test(c.name, () => {
      assert.throws(
        () => compileGoRegexp(c.pattern),
        (err: unknown) =>
          err instanceof RegexpSyntaxError &&
          err.pattern === c.pattern &&
          err.reason === c.reason &&
          err.message === `error compiling regexp ${goQuote(c.pattern)}: ${c.reason}`,
      );
    });
  }

  await t.test("GoQuote", () => {
    assert.equal(goQuote('a"\\b'), String.raw`"a\"\\b"`);
    assert.equal(goQuote("\n\t\x00\x7f"), String.raw`"\n\t\x00\x7f"`);
    assert.equal(goQuote("é牛 😀"), `"é牛 😀"`);
    assert.equal(goQuote("\u200b"), String.raw`"\u200b"`);
  });
});

// ---------------------------------------------------------------------------
// Adaptor helpers.

test("mapField", async (t) => {
  const cases: Array<{ name: string; map: Parameters<typeof mapField>[0]; rest: string[]; want: string | undefined }> = [
    { name: "Key", map: { a: "x" }, rest: ["a"], want: "x" },
    { name: "DottedKey", map: { "a.b": "x" }, rest: ["a", "b"], want: "x" },
    { name: "MissingKey", map: { a: "x" }, rest: ["b"], want: undefined },
    { name: "EmptyValueIsPresent", map: { a: "" }, rest: ["a"], want: "" },
    { name: "EmptyMap", map: {}, rest: ["a"], want: undefined },
    { name: "NoMap", map: undefined, rest: ["a"], want: undefined },
    { name: "NullMap", map: null, rest: ["a"], want: undefined },
    { name: "NoRestIsEmptyKey", map: { "": "x" }, rest: [], want: "x" },
    { name: "PrototypeKeysAreNotLabels", map: { a: "x" }, rest: ["constructor"], want: undefined },
    { name: "Map", map: new Map([["a.b", "x"]]), rest: ["a", "b"], want: "x" },
    { name: "EmptyMapObject", map: new Map(), rest: [""], want: undefined },
  ];
  for (const c of cases) await t.test(c.name, () => assert.equal(mapField(c.map, c.rest), c.want));
});

test("adaptRecord", async (t) => {
  const image = { name: "docker.io/library/a:1", target: { digest: "sha256:abc", mediaType: "" }, labels: { "x.y": "1" } };
  const adapt = adaptRecord({
    name: () => nonEmpty(image.name),
    target: adaptRecord({
      digest: () => nonEmpty(image.target.digest),
      mediatype: () => nonEmpty(image.target.mediaType),
    }),
    labels: (rest) => mapField(image.labels, rest),
  });
  const cases: Array<{ name: string; path: string[]; want: string | undefined }> = [
    { name: "Scalar", path: ["name"], want: "docker.io/library/a:1" },
    { name: "Nested", path: ["target", "digest"], want: "sha256:abc" },
    { name: "EmptyScalarIsAbsent", path: ["target", "mediatype"], want: undefined },
    { name: "NestedWithoutSubfield", path: ["target"], want: undefined },
    { name: "Map", path: ["labels", "x", "y"], want: "1" },
    { name: "Unknown", path: ["size"], want: undefined },
    { name: "EmptyPath", path: [], want: undefined },
    { name: "PrototypeName", path: ["constructor"], want: undefined },
    { name: "ProtoName", path: ["__proto__"], want: undefined },
  ];
  for (const c of cases) await t.test(c.name, () => assert.equal(adapt(c.path), c.want));
});

test("adaptEnvelope", async (t) => {
  const envelope: EnvelopeFields = {
    namespace: "ns1",
    topic: "/containers/create",
    event: {
      id: "c1",
      image: "",
      runtime: { name: "io.containerd.runc.v2", options: { type_url: "x", value: new Uint8Array() } },
      labels: { "a.b": "x", empty: "" },
      exit_status: 137,
      oom: false,
      pids: [1, 2],
      nothing: null,
    },
  };
  const adapt = adaptEnvelope(envelope);
  const cases: Array<{ name: string; path: string[]; want: string | undefined }> = [
    { name: "Namespace", path: ["namespace"], want: "ns1" },
    { name: "Topic", path: ["topic"], want: "/containers/create" },
    { name: "TimestampIsUnhandled", path: ["timestamp"], want: undefined },
    { name: "EventAlone", path: ["event"], want: undefined },
    { name: "EventString", path: ["event", "id"], want: "c1" },
    { name: "EventEmptyString", path: ["event", "image"], want: undefined },
    { name: "EventNestedMessage", path: ["event", "runtime", "name"], want: "io.containerd.runc.v2" },
    { name: "EventNestedMessageAlone", path: ["event", "runtime"], want: undefined },
    { name: "EventBytesAreAbsent", path: ["event", "runtime", "options", "value"], want: undefined },
    { name: "EventMapJoinsRest", path: ["event", "labels", "a", "b"], want: "x" },
    { name: "EventMapEmptyValue", path: ["event", "labels", "empty"], want: "" },
    { name: "EventNumber", path: ["event", "exit_status"], want: "137" },
    { name: "EventBoolean", path: ["event", "oom"], want: "false" },
    { name: "EventScalarIgnoresLongerPath", path: ["event", "id", "x"], want: "c1" },
    { name: "EventArrayIsAbsent", path: ["event", "pids"], want: undefined },
    { name: "EventNullIsAbsent", path: ["event", "nothing"], want: undefined },
    { name: "EventUnknown", path: ["event", "missing"], want: undefined },
  ];
  for (const c of cases) await t.test(c.name, () => assert.equal(adapt(c.path), c.want));

  await t.test("EmptyMapIsAbsent", () => {
    assert.equal(adaptObject({ labels: {} })(["labels", "a"]), undefined);
  });

  await t.test("NoEventIsAbsent", () => {
    assert.equal(adaptEnvelope({ namespace: "", topic: "/x" })(["event", "name"]), undefined);
    assert.equal(adaptEnvelope({ namespace: "", topic: "/x" })(["namespace"]), undefined);
  });

  // [observed 1.6.20] conformance A.13: the filters `topic~="/namespaces/.*",event.name==ns5`
  // and `namespace==ns9` delivered exactly these four envelopes.
  await t.test("ObservedSubscription", () => {
    const stream: EnvelopeFields[] = [
      { namespace: "default", topic: "/namespaces/create", event: { name: "ns5" } },
      { namespace: "default", topic: "/namespaces/create", event: { name: "ns6" } },
      { namespace: "ns1", topic: "/images/create", event: { name: "docker.io/library/a:1" } },
      { namespace: "ns9", topic: "/snapshot/prepare", event: { key: "k", parent: "" } },
      { namespace: "ns9", topic: "/snapshot/remove", event: { key: "k" } },
      { namespace: "ns5", topic: "/namespaces/update", event: { name: "ns6", labels: {} } },
      { namespace: "ns5", topic: "/namespaces/delete", event: { name: "ns5" } },
    ];
    const filter = parseFilters([`topic~="/namespaces/.*",event.name==ns5`, "namespace==ns9"]);
    const delivered = stream.filter((e) => filter.match(adaptEnvelope(e))).map((e) => `${e.namespace} ${e.topic}`);
    assert.deepEqual(delivered, [
      "default /namespaces/create",
      "ns9 /snapshot/prepare",
      "ns9 /snapshot/remove",
      "ns5 /namespaces/delete",
    ]);
  });
});
