import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { memoryFigures, NODE_HEAP_OPTIONS, residentSplit, withNodeHeapOptions } from './memory.ts';

/** new_space's size (MiB) in a child node after it allocated ~2×10^6 short-lived objects. */
function youngGenerationMiB(nodeOptions: string | undefined): number {
  const script = "const v8=require('node:v8');let k=[];for(let i=0;i<2e6;i++){k.push({a:i,b:'x'+i});if(k.length>200000)k=[];}" +
    "process.stdout.write(String(v8.getHeapSpaceStatistics().find((s)=>s.space_name==='new_space').space_size/2**20))";
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return Number(execFileSync(process.execPath, ['-e', script], { env: nodeOptions === undefined ? env : { ...env, NODE_OPTIONS: nodeOptions } }).toString());
}

describe('node heap options', () => {
  it('the image runs every node with NODE_HEAP_OPTIONS', () => {
    const dockerfile = readFileSync(new URL('../../../deploy/Dockerfile', import.meta.url), 'utf8');
    expect(/^\s*NODE_OPTIONS=(\S+)/m.exec(dockerfile)?.[1]).toBe(NODE_HEAP_OPTIONS);
  });

  it('bounds the young generation of a process that allocates fast (2 × 16 MiB semi-spaces)', () => {
    expect(youngGenerationMiB(withNodeHeapOptions(undefined))).toBeLessThanOrEqual(32);
  });

  it('keeps an operator\'s own NODE_OPTIONS and their own semi-space size', () => {
    expect(withNodeHeapOptions('--enable-source-maps')).toBe(`--enable-source-maps ${NODE_HEAP_OPTIONS}`);
    expect(withNodeHeapOptions('--max-semi-space-size=64')).toBe('--max-semi-space-size=64');
  });
});

describe('memoryFigures', () => {
  it('splits the resident set into anonymous and file-backed pages on Linux', () => {
    const m = memoryFigures();
    const r = residentSplit();
    if (process.platform !== 'linux' || r === undefined) return expect(process.platform).not.toBe('linux');
    expect(m.rssAnonMiB).toBeGreaterThan(0);
    expect(m.rssFileMiB).toBeGreaterThan(0);
    // VmRSS = RssAnon + RssFile + RssShmem (kernel accounting), all read from the same file
    expect(r.anon + r.file + r.shmem).toBe(r.rss);
    expect(r.hwm).toBeGreaterThanOrEqual(r.rss);
    expect(residentSplit(2 ** 30)).toBeUndefined();
  });
});
