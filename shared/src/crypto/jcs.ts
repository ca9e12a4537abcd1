/**
 * JSON Canonicalization Scheme (RFC 8785) and a strict JSON reader.
 *
 * `canonicalize` turns a JSON value into its unique RFC 8785 text: object members sorted by
 * the UTF-16 code units of their names, numbers in ECMAScript `Number.prototype.toString`
 * form (so `1.0`, `1e0` and `1` all become `1`, and `-0` becomes `0`), strings with the
 * minimal escaping of ECMAScript `JSON.stringify`, no whitespace. Signatures in cleanroom are
 * computed over these bytes, so two parties that hold the same value always sign the same bytes.
 *
 * `parseStrict` is the only way cleanroom reads signed JSON (statements, transcript lines,
 * key files). It accepts exactly RFC 8259 JSON restricted to the I-JSON profile (RFC 7493) and
 * throws `JcsError` (with the character position) on: invalid syntax, trailing garbage,
 * duplicate member names, lone surrogates (raw or escaped), numbers that overflow to
 * ±Infinity, and integer literals (no fraction, no exponent) beyond ±(2^53−1), which would
 * silently lose precision. Numbers spelled with a fraction or exponent are doubles by
 * spelling and are accepted (RFC 8785 itself emits `1e+21`).
 * `canonicalize` throws on NaN/±Infinity, lone surrogates, and anything that is not JSON
 * (undefined in arrays, functions, bigint, symbols, class instances such as Date or Uint8Array).
 * Object members whose value is `undefined` are omitted, as `JSON.stringify` does, so that
 * optional TypeScript fields canonicalize the same whether absent or undefined.
 *
 * Guarantees: for every value v that `canonicalize` accepts and whose integers are safe,
 * `canonicalize(parseStrict(canonicalize(v))) === canonicalize(v)`. Pure functions, no I/O.
 */

/** A JSON value as produced by `parseStrict`. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Thrown on any rejected input. `position` is the UTF-16 offset in the text, when parsing. */
export class JcsError extends Error {
  readonly position: number | undefined;
  constructor(message: string, position?: number) {
    super(message);
    this.name = 'JcsError';
    this.position = position;
  }
}

const MAX_DEPTH = 256;

// ---------------------------------------------------------------------------------------------
// canonicalize

/** RFC 8785 canonical JSON text of `value`. */
export function canonicalize(value: unknown): string {
  const out: string[] = [];
  writeValue(value, out, '$', 0);
  return out.join('');
}

/** UTF-8 bytes of `canonicalize(value)`. */
export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `object ${name}` : 'object';
  }
  if (typeof value === 'number') return String(value);
  return typeof value;
}

function writeValue(value: unknown, out: string[], path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new JcsError(`expected nesting depth <= ${MAX_DEPTH}, got deeper at ${path}`);
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new JcsError(`expected a finite number at ${path}, got ${value}`);
      // ECMAScript Number::toString is exactly the RFC 8785 number format; -0 prints as "0".
      out.push(String(value));
      return;
    case 'string':
      out.push(quote(value, path));
      return;
    case 'object': {
      if (value === null) {
        out.push('null');
        return;
      }
      if (Array.isArray(value)) {
        out.push('[');
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out.push(',');
          const item: unknown = value[i];
          if (item === undefined) throw new JcsError(`expected a JSON value at ${path}[${i}], got undefined`);
          writeValue(item, out, `${path}[${i}]`, depth + 1);
        }
        out.push(']');
        return;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new JcsError(`expected a plain object at ${path}, got ${describe(value)}`);
      }
      const record = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 requires.
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort();
      out.push('{');
      keys.forEach((key, i) => {
        if (i > 0) out.push(',');
        out.push(quote(key, `${path} (member name)`), ':');
        writeValue(record[key], out, `${path}.${key}`, depth + 1);
      });
      out.push('}');
      return;
    }
    default:
      throw new JcsError(`expected a JSON value at ${path}, got ${describe(value)}`);
  }
}

function quote(s: string, path: string): string {
  const at = firstLoneSurrogate(s);
  if (at >= 0) {
    throw new JcsError(`expected a well-formed Unicode string at ${path}, got a lone surrogate at offset ${at}`);
  }
  // JSON.stringify on a well-formed string is exactly RFC 8785 §3.2.2.2 string serialisation.
  return JSON.stringify(s);
}

function firstLoneSurrogate(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      return i;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------
// parseStrict

/** Parse `text` as strict I-JSON; throws `JcsError` naming the position of the first problem. */
export function parseStrict(text: string): JsonValue {
  if (typeof text !== 'string') throw new JcsError(`expected a string, got ${describe(text)}`);
  const p = new Parser(text);
  p.skipWs();
  const value = p.value(0);
  p.skipWs();
  if (p.pos < text.length) p.fail('end of input', p.pos);
  return value;
}

/** Decode `bytes` as UTF-8 (rejecting invalid sequences and a BOM) and `parseStrict` them. */
export function parseStrictBytes(bytes: Uint8Array): JsonValue {
  if (!(bytes instanceof Uint8Array)) throw new JcsError(`expected Uint8Array, got ${describe(bytes)}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new JcsError('expected valid UTF-8, got an invalid byte sequence');
  }
  if (text.charCodeAt(0) === 0xfeff) throw new JcsError('expected JSON text, got a byte order mark', 0);
  return parseStrict(text);
}

class Parser {
  readonly text: string;
  pos = 0;

  constructor(text: string) {
    this.text = text;
  }

  fail(expected: string, at: number): never {
    const got = at >= this.text.length ? 'end of input' : JSON.stringify(this.text.slice(at, at + 12));
    throw new JcsError(`expected ${expected}, got ${got} at position ${at}`, at);
  }

  skipWs(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nesting depth <= ${MAX_DEPTH}`, this.pos);
    const c = this.text[this.pos];
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
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail('a JSON value', this.pos);
    }
  }

  literal<T extends JsonValue>(word: string, v: T): T {
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return v;
    }
    return this.fail(`"${word}"`, this.pos);
  }

  object(depth: number): JsonValue {
    const obj: { [key: string]: JsonValue } = {};
    const seen = new Set<string>();
    this.pos++; // {
    this.skipWs();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return obj;
    }
    for (;;) {
      this.skipWs();
      const keyAt = this.pos;
      if (this.text[this.pos] !== '"') this.fail('a member name string', this.pos);
      const key = this.string();
      if (seen.has(key)) {
        throw new JcsError(`expected unique member names, got duplicate ${JSON.stringify(key)} at position ${keyAt}`, keyAt);
      }
      seen.add(key);
      this.skipWs();
      if (this.text[this.pos] !== ':') this.fail('":"', this.pos);
      this.pos++;
      this.skipWs();
      const v = this.value(depth + 1);
      // defineProperty, not assignment: a member named "__proto__" must stay an own data property.
      Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.skipWs();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return obj;
      }
      this.fail('"," or "}"', this.pos);
    }
  }

  array(depth: number): JsonValue {
    const arr: JsonValue[] = [];
    this.pos++; // [
    this.skipWs();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return arr;
    }
    for (;;) {
      this.skipWs();
      arr.push(this.value(depth + 1));
      this.skipWs();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return arr;
      }
      this.fail('"," or "]"', this.pos);
    }
  }

  string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let runStart = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail('closing \'"\'', this.pos);
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        out += t.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('an escaped control character', this.pos);
      if (c >= 0xd800 && c <= 0xdbff) {
        const d = t.charCodeAt(this.pos + 1);
        if (!(d >= 0xdc00 && d <= 0xdfff)) this.fail('a low surrogate after a high surrogate', this.pos + 1);
        this.pos += 2;
        continue;
      }
      if (c >= 0xdc00 && c <= 0xdfff) this.fail('a character, not a lone low surrogate', this.pos);
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      // backslash escape
      out += t.slice(runStart, this.pos);
      const escAt = this.pos;
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const u = this.hex4(this.pos);
          this.pos += 4;
          if (u >= 0xd800 && u <= 0xdbff) {
            if (t[this.pos] !== '\\' || t[this.pos + 1] !== 'u') this.fail('a \\u low surrogate escape after a high surrogate escape', this.pos);
            const l = this.hex4(this.pos + 2);
            if (!(l >= 0xdc00 && l <= 0xdfff)) this.fail('a low surrogate escape (\\uDC00-\\uDFFF)', this.pos);
            this.pos += 6;
            out += String.fromCharCode(u, l);
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            this.fail('a character, not a lone low surrogate escape', escAt);
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default:
          this.fail('a valid escape sequence', escAt);
      }
      runStart = this.pos;
    }
  }

  hex4(at: number): number {
    const h = this.text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('4 hex digits', at);
    return parseInt(h, 16);
  }

  number(): number {
    const start = this.pos;
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = start;
    const r = m.exec(this.text);
    if (!r || r[0] === '-' || r[0].length === 0) return this.fail('a number', start);
    const lexeme = r[0];
    // A digit right after a leading zero ("01") is not JSON; the regex stops before it.
    const next = this.text[start + lexeme.length];
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('a valid number', start);
    const v = Number(lexeme);
    if (!Number.isFinite(v)) {
      throw new JcsError(`expected a finite number, got ${lexeme} (overflows to ${v}) at position ${start}`, start);
    }
    // Integer-syntax literals must be exact: 9007199254740993 would silently become ...992.
    // (Fraction/exponent literals are doubles by spelling; RFC 8785 itself emits 1e+21.)
    if (!/[.eE]/.test(lexeme) && !Number.isSafeInteger(v)) {
      throw new JcsError(`expected an integer within ±(2^53−1), got ${lexeme} at position ${start}`, start);
    }
    this.pos = start + lexeme.length;
    return v;
  }
}
