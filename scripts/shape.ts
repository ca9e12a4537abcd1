/**
 * Code-shape figures for issue 10 (one definition per concept), measured from the source:
 *
 *   party lists      places that spell out the three parties as a list: an array literal or a
 *                    union type holding all of 'advertiser', 'media', 'broker', or a proto enum
 *                    with ADVERTISER, MEDIA and BROKER;
 *   round lists      the same for the look-alike rounds: an array, union or proto enum naming at
 *                    least three of OPEN, BLIND, TOKENS, AGGREGATE, LOOKALIKE;
 *   as never         `x as never` casts;
 *   non-null (roles) `x!` non-null assertions (and, apart, those that are not an index `a[i]!`) in the three parties' roles
 *                    (shared/src/protocol/{advertiser,broker,media}.ts);
 *   non-null (protocol)  the same in all of shared/src/protocol/*.ts (not tests);
 *   non-null (all)   the same over all the source;
 *   longest functions  the 10 longest functions, methods and arrows, in lines.
 *
 * Source = the TypeScript under shared/src, services, cli/src, deploy, scripts, bench and the
 * .proto files, without tests (*.test.ts, test/) and without generated code (rpc/generated).
 * Parsed with oxc (rolldown/parseAst, already installed with vitest): TypeScript 7 ships no JS
 * compiler API. Usage: `node scripts/shape.ts [--root DIR] [--json]` (or `make shape`); --root
 * measures another checkout (e.g. a `git worktree` of an older commit).
 * A list in common/names.ts (the one definition: parties, session rounds, each kind's flow) or a
 * proto enum is counted, and listed apart as "in the definition".
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAst } from 'rolldown/parseAst';

const rootArg = process.argv.indexOf('--root');
const ROOT = rootArg > 0 && process.argv[rootArg + 1] ? process.argv[rootArg + 1]! : join(import.meta.dirname, '..');
const DIRS = ['shared/src', 'services', 'cli/src', 'deploy', 'scripts', 'bench', 'proto'];
const PARTY_NAMES = ['advertiser', 'media', 'broker'];
const ROUND_NAMES = ['OPEN', 'BLIND', 'TOKENS', 'AGGREGATE', 'LOOKALIKE'];

function walk(dir: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n === 'node_modules' || n === 'generated' || n === 'dist' || n === 'shape.ts') continue; // shape.ts: these lists
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if ((/\.(ts|mts)$/.test(n) && !/\.test\.ts$/.test(n) && !n.endsWith('.d.ts')) || n.endsWith('.proto')) out.push(p);
  }
}

type Node = { type: string; start: number; end: number; [k: string]: unknown };

function visit(node: unknown, parent: Node | undefined, fn: (n: Node, parent: Node | undefined) => void): void {
  if (Array.isArray(node)) {
    for (const c of node) visit(c, parent, fn);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const n = node as Node;
  if (typeof n.type === 'string') fn(n, parent);
  for (const [k, v] of Object.entries(n)) {
    if (k === 'type' || k === 'start' || k === 'end') continue;
    if (typeof v === 'object' && v !== null) visit(v, typeof n.type === 'string' ? n : parent, fn);
  }
}

function literalsOf(n: Node): string[] {
  const out: string[] = [];
  const items = n.type === 'ArrayExpression' ? (n.elements as Node[]) : (n.types as Node[]);
  for (const e of items ?? []) {
    if (!e) continue;
    const lit = e.type === 'TSLiteralType' ? (e.literal as Node) : e;
    if (lit.type === 'Literal' && typeof lit.value === 'string') out.push(lit.value as string);
  }
  return out;
}

interface Place {
  file: string;
  line: number;
}
interface NonNull extends Place {
  /** `a[i]!`: an index under noUncheckedIndexedAccess, not a field of a state that may be absent. */
  index: boolean;
}
interface Fn extends Place {
  name: string;
  lines: number;
}

export function measure() {
  const files: string[] = [];
  for (const d of DIRS) walk(join(ROOT, d), files);
  const partyLists: Place[] = [];
  const roundLists: Place[] = [];
  const asNever: Place[] = [];
  const nonNull: NonNull[] = [];
  const fns: Fn[] = [];
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    const rel = relative(ROOT, file);
    const lineAt = (pos: number) => src.slice(0, pos).split('\n').length;
    if (file.endsWith('.proto')) {
      for (const m of src.matchAll(/enum\s+\w+\s*\{([^}]*)\}/g)) {
        const body = m[1]!;
        const at = { file: rel, line: lineAt(m.index) };
        if (PARTY_NAMES.every((p) => new RegExp(`\\b\\w*${p.toUpperCase()}\\b`).test(body))) partyLists.push(at);
        if (ROUND_NAMES.filter((r) => new RegExp(`\\b\\w*${r}\\b`).test(body)).length >= 3) roundLists.push(at);
      }
      continue;
    }
    const ast = parseAst(src, { lang: 'ts' }, rel) as unknown as Node;
    visit(ast, undefined, (n, parent) => {
      const at = () => ({ file: rel, line: lineAt(n.start) });
      if (n.type === 'ArrayExpression' || n.type === 'TSUnionType') {
        const lits = literalsOf(n);
        if (PARTY_NAMES.every((p) => lits.includes(p))) partyLists.push(at());
        if (ROUND_NAMES.filter((r) => lits.includes(r)).length >= 3) roundLists.push(at());
      } else if (n.type === 'TSAsExpression' && (n.typeAnnotation as Node).type === 'TSNeverKeyword') {
        asNever.push(at());
      } else if (n.type === 'TSNonNullExpression') {
        const inner = n.expression as Node;
        nonNull.push({ ...at(), index: inner.type === 'MemberExpression' && inner.computed === true });
      } else if (n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression') {
        const lines = lineAt(n.end) - lineAt(n.start) + 1;
        fns.push({ file: rel, line: lineAt(n.start), lines, name: nameOf(n, parent) });
      }
    });
  }
  fns.sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));
  return {
    partyLists,
    roundLists,
    asNever,
    nonNullRoles: nonNull.filter((p) => /^shared\/src\/protocol\/(advertiser|broker|media)\.ts$/.test(p.file)),
    nonNullProtocol: nonNull.filter((p) => /^shared\/src\/protocol\/[^/]+\.ts$/.test(p.file)),
    nonNullAll: nonNull,
    longest: fns.slice(0, 10),
  };
}

function nameOf(n: Node, parent: Node | undefined): string {
  const id = n.id as Node | null | undefined;
  if (id && typeof id.name === 'string') return id.name;
  if (parent?.type === 'VariableDeclarator') return String((parent.id as Node).name ?? '(anonymous)');
  if (parent?.type === 'MethodDefinition' || parent?.type === 'Property' || parent?.type === 'PropertyDefinition') {
    const key = parent.key as Node;
    return String(key.name ?? key.value ?? '(computed)');
  }
  return '(anonymous)';
}

if (import.meta.main) {
  const m = measure();
  if (process.argv.includes('--json')) {
    console.log(JSON.stringify(m, null, 2));
  } else {
    const where = (ps: Place[]) => ps.map((p) => `${p.file}:${p.line}`).join(', ');
    const definition = (p: Place) => p.file === 'shared/src/common/names.ts' || p.file.endsWith('.proto');
    const lists = (ps: Place[]) => `${ps.length}, ${ps.filter((p) => !definition(p)).length} outside the definition  (${where(ps)})`;
    console.log(`party lists            ${lists(m.partyLists)}`);
    console.log(`round lists            ${lists(m.roundLists)}`);
    console.log(`as never casts         ${m.asNever.length}  (${where(m.asNever)})`);
    const nn = (ps: NonNull[]) => `${ps.length} (${ps.filter((p) => !p.index).length} not an index a[i]!)`;
    console.log(`non-null in the roles  ${nn(m.nonNullRoles)}  (${where(m.nonNullRoles.filter((p) => !p.index))})`);
    console.log(`non-null in protocol/  ${nn(m.nonNullProtocol)}`);
    console.log(`non-null, all source   ${nn(m.nonNullAll)}`);
    console.log('longest functions (lines):');
    for (const f of m.longest) console.log(`  ${String(f.lines).padStart(4)}  ${f.name}  ${f.file}:${f.line}`);
  }
}
