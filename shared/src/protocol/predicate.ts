/**
 * Predicates: the small JSON language that selects records for a session kind (issue 11).
 *
 *   P    := { "all": [P, …] } | { "any": [P, …] } | { "not": P } | LEAF
 *   LEAF := { "<key>": field, "eq": value } | { "<key>": field, "in": [value, …] }
 *         | { "<key>": field, "gte": number } | { "<key>": field, "lte": number }
 *         | { "<key>": field }                        (boolean field: true)
 * `<key>` is "tag" for the advertiser's first-party tags (evaluated by the advertiser node over
 * its CRM, never sent) and "attr" for media's attributes (evaluated by media over its own
 * users; A's predicate never leaves A, media's per-user values never leave media). Example:
 *   {"all":[{"tag":"visited_90d","eq":true},{"not":{"tag":"purchased_90d"}}]}
 *   {"all":[{"attr":"gender","eq":"female"},{"attr":"age","in":["18-24","25-29"]},{"attr":"interest","eq":"travel"}]}
 * A multi-valued field (media's `interest`) is true for `eq v` when v is among its values
 * and for `in […]` when any is. `all: []` is true, `any: []` false.
 *
 * Validated where it enters, against the evaluating party's schema: an unknown field names
 * itself and the known ones; a value outside the field's domain names the allowed values;
 * at most MAX_NODES nodes and MAX_DEPTH levels. Errors are ProtocolError INVALID_ARGUMENT.
 * Pure: no I/O.
 */
import { ProtocolError } from './messages.ts';

export type Scalar = string | number | boolean;

export type Predicate =
  | { all: Predicate[] }
  | { any: Predicate[] }
  | { not: Predicate }
  | { tag?: string; attr?: string; eq?: Scalar; in?: Scalar[]; gte?: number; lte?: number };

/** One field a predicate may name: its type and, for strings, its domain. */
export type FieldSpec =
  | { type: 'bool' }
  | { type: 'int' }
  | { type: 'enum'; values: readonly string[]; multi?: boolean };

export interface PredicateSchema {
  /** The leaf key this party's predicates use: "tag" (advertiser) or "attr" (media). */
  key: 'tag' | 'attr';
  /** Who evaluates it, for error messages ("advertiser tag", "media attribute"). */
  noun: string;
  fields: Readonly<Record<string, FieldSpec>>;
}

/** A record as the evaluator sees it: a field's value (a list for multi-valued fields). */
export type FieldReader = (field: string) => Scalar | readonly string[];

export const MAX_NODES = 64;
export const MAX_DEPTH = 8;
/** Longest predicate accepted as JSON text. */
export const MAX_PREDICATE_CHARS = 4096;

function bad(msg: string): never {
  throw new ProtocolError('INVALID_ARGUMENT', `predicate: ${msg}`);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses predicate JSON text (empty text: undefined, i.e. no predicate). */
export function parsePredicateText(text: string): Predicate | undefined {
  if (text === '') return undefined;
  if (text.length > MAX_PREDICATE_CHARS) bad(`expected at most ${MAX_PREDICATE_CHARS} characters of JSON, got ${text.length}`);
  try {
    return JSON.parse(text) as Predicate;
  } catch (e) {
    return bad(`expected JSON, got ${(e as Error).message}`);
  }
}

/** A validated predicate, compiled against its schema. */
export interface CompiledPredicate {
  readonly predicate: Predicate;
  /** Canonical JSON text (what travels, for a media predicate). */
  readonly text: string;
  /** The fields it reads. */
  readonly fields: ReadonlySet<string>;
  test(read: FieldReader): boolean;
}

/** Validates `p` against `schema`; throws INVALID_ARGUMENT naming the first problem. */
export function compilePredicate(p: unknown, schema: PredicateSchema): CompiledPredicate {
  let nodes = 0;
  const fields = new Set<string>();
  const build = (q: unknown, depth: number, path: string): ((r: FieldReader) => boolean) => {
    if (++nodes > MAX_NODES) bad(`expected at most ${MAX_NODES} nodes, got more`);
    if (depth > MAX_DEPTH) bad(`expected at most ${MAX_DEPTH} levels of nesting, got more at ${path}`);
    if (!isObj(q)) bad(`expected an object at ${path}, got ${Array.isArray(q) ? 'an array' : q === null ? 'null' : typeof q}`);
    const keys = Object.keys(q);
    if ('all' in q || 'any' in q) {
      const op = 'all' in q ? 'all' : 'any';
      if (keys.length !== 1) bad(`expected only '${op}' at ${path}, got ${keys.map((k) => `'${k}'`).join(', ')}`);
      const list = q[op];
      if (!Array.isArray(list)) bad(`expected '${op}' to hold a list at ${path}`);
      const parts = list.map((x, i) => build(x, depth + 1, `${path}.${op}[${i}]`));
      return op === 'all' ? (r) => parts.every((f) => f(r)) : (r) => parts.some((f) => f(r));
    }
    if ('not' in q) {
      if (keys.length !== 1) bad(`expected only 'not' at ${path}, got ${keys.map((k) => `'${k}'`).join(', ')}`);
      const inner = build(q.not, depth + 1, `${path}.not`);
      return (r) => !inner(r);
    }
    const other = schema.key === 'tag' ? 'attr' : 'tag';
    if (other in q) bad(`'${other}' names the other party's data: this predicate is over ${schema.noun}s ('${schema.key}') at ${path}`);
    if (!(schema.key in q)) bad(`expected 'all', 'any', 'not' or '${schema.key}' at ${path}, got ${keys.map((k) => `'${k}'`).join(', ') || 'an empty object'}`);
    const field = q[schema.key];
    if (typeof field !== 'string') bad(`expected '${schema.key}' to be a string at ${path}`);
    const spec = Object.hasOwn(schema.fields, field) ? schema.fields[field] : undefined;
    if (!spec) bad(`unknown ${schema.noun} '${field}' at ${path} (known: ${Object.keys(schema.fields).join(', ')})`);
    fields.add(field);
    const ops = keys.filter((k) => k !== schema.key);
    for (const k of ops) if (!['eq', 'in', 'gte', 'lte'].includes(k)) bad(`unknown operator '${k}' for ${schema.noun} '${field}' at ${path} (expected eq, in, gte or lte)`);
    if (ops.length > 1) bad(`expected one operator for ${schema.noun} '${field}' at ${path}, got ${ops.join(', ')}`);
    const op = ops[0];
    const checkValue = (v: unknown): Scalar => {
      if (spec.type === 'bool') {
        if (typeof v !== 'boolean') bad(`expected true or false for ${schema.noun} '${field}' at ${path}, got ${JSON.stringify(v)}`);
      } else if (spec.type === 'int') {
        if (typeof v !== 'number' || !Number.isSafeInteger(v)) bad(`expected an integer for ${schema.noun} '${field}' at ${path}, got ${JSON.stringify(v)}`);
      } else if (typeof v !== 'string' || !spec.values.includes(v)) {
        bad(`expected one of ${spec.values.join(', ')} for ${schema.noun} '${field}' at ${path}, got ${JSON.stringify(v)}`);
      }
      return v as Scalar;
    };
    const has = (r: FieldReader, v: Scalar): boolean => {
      const x = r(field);
      return Array.isArray(x) ? x.includes(v as string) : x === v;
    };
    if (op === undefined) {
      if (spec.type !== 'bool') bad(`expected an operator (eq, in, gte, lte) for ${schema.noun} '${field}' at ${path}`);
      return (r) => r(field) === true;
    }
    if (op === 'eq') {
      const v = checkValue(q.eq);
      return (r) => has(r, v);
    }
    if (op === 'in') {
      if (!Array.isArray(q.in) || q.in.length === 0) bad(`expected 'in' to hold a non-empty list at ${path}`);
      const vs = q.in.map(checkValue);
      return (r) => vs.some((v) => has(r, v));
    }
    if (spec.type !== 'int') bad(`'${op}' needs an integer ${schema.noun}; '${field}' is ${spec.type === 'bool' ? 'a boolean' : 'categorical'} (at ${path})`);
    const bound = checkValue(q[op]) as number;
    return op === 'gte' ? (r) => (r(field) as number) >= bound : (r) => (r(field) as number) <= bound;
  };
  const test = build(p, 0, '$');
  return { predicate: p as Predicate, text: JSON.stringify(p), fields, test };
}
