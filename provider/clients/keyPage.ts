/**
 * Reads the keys of a Dataverse page straight from its bytes: the values of one column of the rows
 * in `value`, and `@odata.nextLink` ("Page results",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/page-results) —
 * without decoding the page into a string or parsing it into objects.
 *
 * A page of 5,000 keys is ~0.5 MB of JSON: as a string V8 keeps it in its large-object space until
 * its next full collection, and its parse is 5,000 rows of two strings each, all garbage as soon
 * as the keys are out. A CompanyBootstrap of 200,000 rows reads 40 such pages; this scan makes
 * only the key strings. It checks the whole page's JSON syntax as it goes, so a truncated or
 * malformed answer is an error, never a short page.
 */

/** What a page of keys holds. */
export interface KeyPage {
  /** The key of each row that has one as a string, in order (rows without one are left out). */
  readonly keys: string[];
  /** The next page's URL, when there is one. */
  readonly nextLink: string | undefined;
}

/**
 * What a page read for counting holds ("Count rows using OData",
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/count-rows).
 */
export interface CountPage {
  /** How many rows the page holds. */
  readonly rows: number;
  /** The next page's URL, when there is one. */
  readonly nextLink: string | undefined;
  /** `@odata.count`, when the page has it. */
  readonly count: number | undefined;
  /** `@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded`, when the page has it. */
  readonly countLimitExceeded: boolean | undefined;
}

/** Why a page could not be read; the message says where. */
export class KeyPageSyntaxError extends Error {}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** Deeper nesting than any Dataverse row has; guards the recursion of `skipValue`. */
const MAX_DEPTH = 64;

const VALUE = Buffer.from("value");
const NEXT_LINK = Buffer.from("@odata.nextLink");
const COUNT = Buffer.from("@odata.count");
const LIMIT_EXCEEDED = Buffer.from("@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded");

/**
 * The keys (`key` column) and next link of a page of rows (`{"value":[{…},…],"@odata.nextLink":…}`).
 * @throws KeyPageSyntaxError when the bytes are not such a JSON object
 */
export function readKeyPage(bytes: Buffer, key: string): KeyPage {
  const { keys, nextLink } = new Scanner(bytes).page(Buffer.from(key));
  return { keys, nextLink };
}

/**
 * The rows, next link and count annotations of a page read for counting; no row is looked into.
 * @throws KeyPageSyntaxError when the bytes are not a page of rows, or an annotation is not of its type
 */
export function readCountPage(bytes: Buffer): CountPage {
  const { rows, nextLink, count, countLimitExceeded } = new Scanner(bytes).page(undefined);
  return { rows, nextLink, count, countLimitExceeded };
}

/** A pass over the bytes of one JSON document; `at` is the next byte to read. */
class Scanner {
  private at = 0;
  // The last string read: its content's bounds, and whether it holds an escape.
  private start = 0;
  private end = 0;
  private escaped = false;

  constructor(private readonly bytes: Buffer) {}

  /** The page's rows, next link and count annotations; the keys of the rows when `key` is given. */
  page(key: Buffer | undefined): KeyPage & CountPage {
    const keys: string[] = [];
    let rows = 0;
    let nextLink: string | undefined;
    let count: number | undefined;
    let countLimitExceeded: boolean | undefined;
    let sawValue = false;
    // Loops rather than callbacks: a closure per row would be garbage too.
    this.expect(OPEN_BRACE);
    for (let member = this.firstMember(); member; member = this.nextMember()) {
      if (this.nameIs(VALUE)) {
        sawValue = true;
        this.expect(OPEN_BRACKET);
        for (let row = this.firstElement(); row; row = this.nextElement()) {
          rows++;
          this.expect(OPEN_BRACE);
          for (let column = this.firstMember(); column; column = this.nextMember()) {
            if (key !== undefined && this.nameIs(key) && this.peek() === QUOTE) {
              this.string();
              keys.push(this.text());
            } else this.skipValue(2);
          }
        }
      } else if (this.nameIs(NEXT_LINK)) {
        if (this.peek() !== QUOTE) this.fail("@odata.nextLink is not a string");
        this.string();
        nextLink = this.text();
      } else if (this.nameIs(COUNT)) {
        const from = this.at;
        if (this.peek() !== 0x2d && !isNumberByte(this.peek() ?? 0))
          this.fail("@odata.count is not a number");
        this.number();
        count = Number(this.bytes.toString("latin1", from, this.at));
        if (!Number.isInteger(count) || count < 0) this.fail("@odata.count is not a count", from);
      } else if (this.nameIs(LIMIT_EXCEEDED)) {
        const c = this.peek();
        if (c !== 0x74 && c !== 0x66) this.fail("the count limit annotation is not true or false");
        countLimitExceeded = c === 0x74;
        this.literal(countLimitExceeded ? "true" : "false");
      } else this.skipValue(1);
    }
    this.space();
    if (this.at !== this.bytes.length) this.fail("text after the page's object");
    if (!sawValue) this.fail("no value array");
    return { keys, rows, nextLink, count, countLimitExceeded };
  }

  /** After an object's `{`: whether a member follows, its name and `:` read. */
  private firstMember(): boolean {
    if (this.peek() === CLOSE_BRACE) {
      this.at++;
      return false;
    }
    this.memberName();
    return true;
  }

  /** After a member's value: whether another member follows (its name and `:` read). */
  private nextMember(): boolean {
    const next = this.next();
    if (next === CLOSE_BRACE) return false;
    if (next !== COMMA) this.fail("',' or '}' was expected", this.at - 1);
    this.memberName();
    return true;
  }

  private memberName(): void {
    if (this.peek() !== QUOTE) this.fail("a member name was expected");
    this.string();
    this.expect(COLON);
    this.space();
  }

  /** After an array's `[`: whether an element follows. */
  private firstElement(): boolean {
    if (this.peek() === CLOSE_BRACKET) {
      this.at++;
      return false;
    }
    return true;
  }

  /** After an element: whether another follows. */
  private nextElement(): boolean {
    const next = this.next();
    if (next === CLOSE_BRACKET) return false;
    if (next !== COMMA) this.fail("',' or ']' was expected", this.at - 1);
    this.space();
    return true;
  }

  /** Whether the last string read is `name` (a name with an escape is never one we look for). */
  private nameIs(name: Buffer): boolean {
    return (
      !this.escaped &&
      this.end - this.start === name.length &&
      this.bytes.compare(name, 0, name.length, this.start, this.end) === 0
    );
  }

  /** Reads any value, keeping nothing. */
  private skipValue(depth: number): void {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    const c = this.peek();
    if (c === QUOTE) this.string();
    else if (c === OPEN_BRACE) {
      this.at++;
      for (let m = this.firstMember(); m; m = this.nextMember()) this.skipValue(depth + 1);
    } else if (c === OPEN_BRACKET) {
      this.at++;
      for (let e = this.firstElement(); e; e = this.nextElement()) this.skipValue(depth + 1);
    } else if (c === 0x74) this.literal("true");
    else if (c === 0x66) this.literal("false");
    else if (c === 0x6e) this.literal("null");
    else if (c !== undefined && (c === 0x2d || (c >= 0x30 && c <= 0x39))) this.number();
    else this.fail("a value was expected");
  }

  /** A string whose opening quote is next; sets its bounds. */
  private string(): void {
    const b = this.bytes;
    let i = this.at + 1;
    this.start = i;
    this.escaped = false;
    for (;;) {
      if (i >= b.length) this.fail("unterminated string", this.start - 1);
      const c = b[i]!;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        this.escaped = true;
        i += 2;
      } else if (c < 0x20) this.fail("a control character in a string", i);
      else i++;
    }
    this.end = i;
    this.at = i + 1;
  }

  /** The last string read, decoded. */
  private text(): string {
    if (!this.escaped) return this.bytes.toString("utf8", this.start, this.end);
    try {
      return JSON.parse(this.bytes.toString("utf8", this.start - 1, this.end + 1)) as string;
    } catch {
      return this.fail("a bad escape in a string", this.start - 1);
    }
  }

  private number(): void {
    const b = this.bytes;
    let i = this.at;
    while (i < b.length && isNumberByte(b[i]!)) i++;
    if (!Number.isFinite(Number(b.toString("latin1", this.at, i)))) this.fail("a bad number");
    this.at = i;
  }

  private literal(word: string): void {
    if (this.bytes.toString("latin1", this.at, this.at + word.length) !== word)
      this.fail("a value was expected");
    this.at += word.length;
  }

  /** Skips white space and reads the next byte. */
  private next(): number | undefined {
    this.space();
    return this.bytes[this.at++];
  }

  /** Skips white space and expects `c`. */
  private expect(c: number): void {
    if (this.next() !== c) this.fail(`'${String.fromCharCode(c)}' was expected`, this.at - 1);
  }

  /** Skips white space; the next byte, not read. */
  private peek(): number | undefined {
    this.space();
    return this.bytes[this.at];
  }

  private space(): void {
    const b = this.bytes;
    while (this.at < b.length) {
      const c = b[this.at]!;
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.at++;
    }
  }

  private fail(what: string, at = this.at): never {
    throw new KeyPageSyntaxError(`not a page of rows: ${what} at byte ${at}`);
  }
}

/** Whether `c` is one of the characters a JSON number is written with (`-+.eE` and digits). */
function isNumberByte(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x45 || c === 0x65
  );
}
