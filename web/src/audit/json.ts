// A strict JSON parser for audit records, as strict as the Rust side's
// serde_json with `deny_unknown_fields`: numbers keep their exact text (an
// audit entry's integers are u64 / i64, beyond a double's 2^53), a repeated
// key is refused (serde refuses a duplicate field; JSON.parse would keep the
// last one silently), lone surrogates are refused, and nothing follows the
// value but whitespace. Objects are Maps, so a key cannot collide with
// Object.prototype.

/** A JSON number, its text kept exactly; `integer` when it has no fraction or exponent. */
export class JsonNumber {
  constructor(
    readonly text: string,
    readonly integer: boolean,
  ) {}
}

export type Json = null | boolean | string | JsonNumber | Json[] | JsonObject;
export type JsonObject = Map<string, Json>;

/** Not JSON, or JSON that is not what was expected. */
export class JsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonError';
  }
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  fail(what: string): never {
    throw new JsonError(`${what} at column ${this.i + 1}`);
  }

  skip(): void {
    while (this.i < this.s.length && WS.has(this.s.charCodeAt(this.i))) this.i++;
  }

  top(): Json {
    this.skip();
    const v = this.value(0);
    this.skip();
    if (this.i !== this.s.length) this.fail('trailing characters');
    return v;
  }

  value(depth: number): Json {
    if (depth > 64) this.fail('nested too deeply');
    const c = this.s[this.i];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      case undefined:
        return this.fail('EOF while parsing a value');
      default:
        if (c === '-' || (c >= '0' && c <= '9')) return this.number();
        return this.fail('expected value');
    }
  }

  literal<T extends Json>(word: string, v: T): T {
    if (this.s.startsWith(word, this.i)) {
      this.i += word.length;
      return v;
    }
    return this.fail('expected value');
  }

  number(): JsonNumber {
    const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    m.lastIndex = this.i;
    const r = m.exec(this.s);
    if (r === null || r[0] === '-') this.fail('invalid number');
    this.i += r[0].length;
    return new JsonNumber(r[0], r[1] === undefined && r[2] === undefined);
  }

  string(): string {
    this.i++; // the opening quote
    let out = '';
    let start = this.i;
    for (;;) {
      const c = this.s.charCodeAt(this.i);
      if (Number.isNaN(c)) this.fail('EOF while parsing a string');
      if (c === 0x22) {
        out += this.s.slice(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail('control character in a string');
      if (c >= 0xd800 && c <= 0xdfff) {
        // Raw surrogates must pair (they come from a JavaScript string).
        const d = this.s.charCodeAt(this.i + 1);
        if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) this.fail('lone surrogate in a string');
        this.i += 2;
        continue;
      }
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += this.s.slice(start, this.i);
      const e = this.s[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hi = this.hex4();
          if (hi >= 0xdc00 && hi <= 0xdfff) this.fail('lone trailing surrogate in an escape');
          if (hi >= 0xd800 && hi <= 0xdbff) {
            if (this.s[this.i] !== '\\' || this.s[this.i + 1] !== 'u') this.fail('lone leading surrogate in an escape');
            this.i += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone leading surrogate in an escape');
            out += String.fromCharCode(hi, lo);
          } else {
            out += String.fromCharCode(hi);
          }
          break;
        }
        default:
          this.i--;
          this.fail('invalid escape');
      }
      start = this.i;
    }
  }

  hex4(): number {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    this.i += 4;
    return parseInt(h, 16);
  }

  array(depth: number): Json[] {
    this.i++;
    const out: Json[] = [];
    this.skip();
    if (this.s[this.i] === ']') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skip();
      out.push(this.value(depth + 1));
      this.skip();
      const c = this.s[this.i++];
      if (c === ']') return out;
      if (c !== ',') {
        this.i--;
        this.fail('expected `,` or `]`');
      }
    }
  }

  object(depth: number): JsonObject {
    this.i++;
    const out: JsonObject = new Map();
    this.skip();
    if (this.s[this.i] === '}') {
      this.i++;
      return out;
    }
    for (;;) {
      this.skip();
      if (this.s[this.i] !== '"') this.fail('key must be a string');
      const key = this.string();
      if (out.has(key)) this.fail(`duplicate field \`${key}\``);
      this.skip();
      if (this.s[this.i++] !== ':') {
        this.i--;
        this.fail('expected `:`');
      }
      this.skip();
      out.set(key, this.value(depth + 1));
      this.skip();
      const c = this.s[this.i++];
      if (c === '}') return out;
      if (c !== ',') {
        this.i--;
        this.fail('expected `,` or `}`');
      }
    }
  }
}

/** Parses one JSON document strictly; a {@link JsonError} if it is not one. */
export function parseJson(text: string): Json {
  return new Parser(text).top();
}

/**
 * A value JSON.parse (or a fetch's `.json()`) already produced, in this
 * module's form. Its numbers were doubles: only safe integers are kept as
 * integers, so an entry whose integers were rounded does not verify.
 */
export function fromJsValue(v: unknown, depth = 0): Json {
  if (depth > 64) throw new JsonError('nested too deeply');
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new JsonError('not a JSON number');
    return new JsonNumber(String(v), Number.isSafeInteger(v));
  }
  if (Array.isArray(v)) return v.map((x) => fromJsValue(x, depth + 1));
  if (typeof v === 'object') {
    const out: JsonObject = new Map();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out.set(k, fromJsValue(x, depth + 1));
    return out;
  }
  throw new JsonError(`not a JSON value: ${typeof v}`);
}

/** The JSON string literal of `s`, escaped as serde_json does: `"`, `\`, and control characters only (\b \f \n \r \t, else \u00xx lowercase). */
export function quote(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/["\\\u0000-\u001f]/.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20) out += `\\u00${c.toString(16).padStart(2, '0')}`;
    else out += s[i];
  }
  return `${out}"`;
}
