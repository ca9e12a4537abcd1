/**
 * Media's per-user labels for the lookup kind (应用四 member data delivery, 应用五 leads
 * scoring): written by the world generator (one hook in generate.ts) beside the universe,
 * read by the media node when it publishes them.
 *
 * File: <out>/media/labels.csv — user_id,leads_score,tier,last_active,tenure, one row per
 * universe user, universe order. It is media's own data and, with the universe's
 * consent_share column (the data-sharing consent, per record: data/format.ts), the lookup's
 * ground truth: a label the advertiser receives must equal this row, and only users with
 * consent_share = 1 may get one. Consent lives in the universe CSV only (one definition);
 * media enforces it when it publishes (protocol/label-publication.ts).
 *
 * Ground-truth model (deterministic, from the seed): the leads score is
 * round(100·σ(z)), z = −2.2 + 2.4·propensity + 0.8·[activity high or very-high]
 * + 0.9·auto + 0.4·finance + 0.3·luxury + 0.4·[age 30–49] + 0.6·u, u uniform in [−1, 1];
 * the member tier rises with activity and tenure; the last-active band follows activity.
 */
import { join } from 'node:path';
import { open } from 'node:fs/promises';
import { ATTRIBUTE_INDEX } from '../common/attributes.ts';
import { LABEL_COLUMNS, LAST_ACTIVE, TENURES, TIERS, type Label } from '../common/labels.ts';
import { readPropensity, readUniverse, type UniverseRow } from './files.ts';

/** The generator's independent random streams (generate.ts streamRng), passed in: no import cycle. */
export type StreamRng = (seed: string, stream: string) => { float(): number };

export const LABELS_HEADER = ['user_id', ...LABEL_COLUMNS].join(',');

export interface LabelRow {
  userId: string;
  label: Label;
}

const at = (name: string): number => {
  const i = ATTRIBUTE_INDEX.get(name);
  if (i === undefined) throw new Error(`labels model: unknown attribute ${name}`);
  return i;
};

/** The ground-truth label of one user (the generator's model; exported for tests). */
export function labelOf(row: Pick<UniverseRow, 'vector'>, propensity: boolean, u: () => number): Label {
  const v = row.vector;
  const act = v[at('activity:very-high')] ? 3 : v[at('activity:high')] ? 2 : v[at('activity:medium')] ? 1 : 0;
  const age3049 = v[at('age:30-34')] || v[at('age:35-39')] || v[at('age:40-49')] ? 1 : 0;
  const z = -2.2 + 2.4 * (propensity ? 1 : 0) + 0.8 * (act >= 2 ? 1 : 0) + 0.9 * v[at('interest:auto')]! + 0.4 * v[at('interest:finance')]!
    + 0.3 * v[at('interest:luxury')]! + 0.4 * age3049 + 0.6 * (2 * u() - 1);
  const leadsScore = Math.round(100 / (1 + Math.exp(-z)));
  const tenure = Math.min(3, Math.floor(u() * 4));
  const tier = Math.max(0, Math.min(3, Math.floor((act + tenure) / 2 + u() - 0.3)));
  const lastActive = Math.max(0, Math.min(3, 3 - act + (u() < 0.3 ? 1 : 0)));
  return { leadsScore, tier: TIERS[tier]!, lastActive: LAST_ACTIVE[lastActive]!, tenure: TENURES[tenure]! };
}

/** Writes <outDir>/media/labels.csv from the universe and propensity files already written there. */
export async function generateLabels(outDir: string, seed: string, streamRng: StreamRng): Promise<{ path: string; users: number }> {
  const propensity = readPropensity(outDir);
  const model = streamRng(seed, 'labels');
  const path = join(outDir, 'media', 'labels.csv');
  const fh = await open(path, 'w');
  let users = 0;
  try {
    let buf = LABELS_HEADER + '\n';
    for await (const row of readUniverse(join(outDir, 'media', 'universe.csv'))) {
      const l = labelOf(row, propensity.has(row.userId), () => model.float());
      users++;
      buf += `${row.userId},${l.leadsScore},${l.tier},${l.lastActive},${l.tenure}\n`;
      if (buf.length >= 1 << 20) {
        await fh.write(buf, null, 'utf8');
        buf = '';
      }
    }
    await fh.write(buf, null, 'utf8');
  } finally {
    await fh.close();
  }
  return { path, users };
}

function parseRow(line: string, n: number, path: string): LabelRow {
  const f = line.split(',');
  if (f.length !== 5) throw new Error(`${path}:${n}: expected 5 fields, got ${f.length}`);
  const [userId, score, tier, lastActive, tenure] = f as [string, string, string, string, string];
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(userId)) throw new Error(`${path}:${n}: expected a user_id, got '${userId.slice(0, 40)}'`);
  const s = Number(score);
  if (!/^\d{1,3}$/.test(score) || s > 100) throw new Error(`${path}:${n}: expected leads_score in [0, 100], got '${score.slice(0, 10)}'`);
  const pick = <T extends readonly string[]>(list: T, v: string, field: string): T[number] => {
    if (!(list as readonly string[]).includes(v)) throw new Error(`${path}:${n}: expected ${field} one of ${list.join('|')}, got '${v.slice(0, 20)}'`);
    return v as T[number];
  };
  return { userId, label: { leadsScore: s, tier: pick(TIERS, tier, 'tier'), lastActive: pick(LAST_ACTIVE, lastActive, 'last_active'), tenure: pick(TENURES, tenure, 'tenure') } };
}

/** Reads a labels CSV: user_id → row. Throws on a wrong header or any malformed row (media's own file). */
/**
 * The rows of a labels CSV one by one, streamed (a node joins them to its universe on disk,
 * services/media/src/label-store.ts). Throws with the line on a bad header or row; a user_id
 * that appears twice is the caller's to detect (readLabels does).
 */
export async function* readLabelRows(path: string): AsyncGenerator<LabelRow> {
  const fh = await open(path, 'r');
  try {
    let n = 0;
    let header = true;
    for await (const raw of fh.readLines()) {
      n++;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (header) {
        if (line !== LABELS_HEADER) throw new Error(`${path}:1: expected header '${LABELS_HEADER}', got '${line.slice(0, 120)}'`);
        header = false;
        continue;
      }
      if (line === '') continue;
      yield parseRow(line, n, path);
    }
  } finally {
    await fh.close();
  }
}

/** Every row of a labels CSV by user_id (in memory: tests and small files). */
export async function readLabels(path: string): Promise<Map<string, LabelRow>> {
  const out = new Map<string, LabelRow>();
  for await (const r of readLabelRows(path)) {
    if (out.has(r.userId)) throw new Error(`${path}: user_id '${r.userId}' appears twice`);
    out.set(r.userId, r);
  }
  return out;
}
