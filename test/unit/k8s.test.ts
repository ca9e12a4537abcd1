/**
 * Kubernetes manifests (deploy/k8s): every party's manifests render from values.json and
 * validate against the Kubernetes OpenAPI schema (kubernetes-models), the committed YAML is
 * exactly what the generator writes and validates when read back, an invalid field or value
 * fails validation, and each party's files hold only that party's node with the promised
 * properties (default-deny network policy, non-root read-only pods, probes, sizing).
 */
import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { diffAgainst, K8S_DIR, renderAll } from '../../deploy/k8s/generate.ts';
import { buildParty, CALLERS, parseValues, PARTIES, PORTS, ValuesError } from '../../deploy/k8s/manifests.ts';
import { memoryFor, sizingTable, stateVolumeFor } from '../../deploy/k8s/sizing.ts';

const VALUES = JSON.parse(readFileSync(join(K8S_DIR, 'values.json'), 'utf8'));
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  Namespace, ServiceAccount, ConfigMap, Service, PersistentVolumeClaim, StatefulSet, Job, NetworkPolicy, Certificate,
};

/** Every document of the committed YAML of one party: [file, object]. */
function committed(party: string): [string, any][] {
  const files = [...renderAll(VALUES).keys()].filter((f) => f.startsWith(`${party}/`));
  return files.flatMap((f) => parseAllDocuments(readFileSync(join(K8S_DIR, f), 'utf8')).map((d): [string, any] => [f, d.toJSON()]));
}

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('the committed YAML is exactly what `make k8s` generates', () => {
    expect(diffAgainst(K8S_DIR, renderAll(VALUES))).toEqual([]);
  });

  it('every committed object validates against the Kubernetes (and cert-manager) schema when read back', () => {
    let n = 0;
    for (const p of PARTIES) {
      for (const [file, obj] of committed(p)) {
        const Model = MODELS[obj.kind];
        expect(Model, `${file}: kind ${obj.kind}`).toBeDefined();
        expect(() => new Model!(obj).validate(), file).not.toThrow();
        n++;
      }
    }
    expect(n).toBeGreaterThan(20);
  });

  it('an invalid field value fails schema validation, naming the field', () => {
    const [, sts] = committed('media').find(([, o]) => o.kind === 'StatefulSet')!;
    const bad = structuredClone(sts);
    bad.spec.replicas = 'one';
    expect(() => new StatefulSet(bad).validate()).toThrow(/spec\/replicas must be integer/);
    const bad2 = structuredClone(sts);
    bad2.spec.template.spec.containers[0].securityContext.runAsNonRoot = 'yes';
    expect(() => new StatefulSet(bad2).validate()).toThrow(/securityContext\/runAsNonRoot must be boolean/);
    const bad3 = structuredClone(sts);
    bad3.spec.template.spec.containers[0].readinessProbe.grpc.port = 'health';
    expect(() => new StatefulSet(bad3).validate()).toThrow(/grpc\/port must be integer/);
    const [, np] = committed('broker').find(([, o]) => o.kind === 'NetworkPolicy' && o.metadata.name === 'broker-allow')!;
    const bad4 = structuredClone(np);
    bad4.spec.ingress[0].ports[0].protocol = 'HTTP';
    expect(() => new NetworkPolicy(bad4).validate()).toThrow(/protocol must be equal to one of the allowed values/);
  });

  it('invalid values are refused where they enter, each problem named', () => {
    expect(() => parseValues('broker', { ...VALUES.broker, peerCidrs: { advertiser: ['10.0.0.0'], media: ['198.51.100.0/24'] } })).toThrow(/broker\.peerCidrs\.advertiser: expected a non-empty list of CIDRs/);
    expect(() => parseValues('advertiser', { ...VALUES.advertiser, peerAddresses: {} })).toThrow(/advertiser\.peerAddresses\.broker: expected host:port/);
    expect(() => parseValues('media', { ...VALUES.media, replicas: 3 })).toThrow(/media\.replicas: unknown setting/);
    expect(() => parseValues('media', { ...VALUES.media, namespace: 'Media_NS', universeUsers: -1 })).toThrow(ValuesError);
    expect(() => renderAll({ ...VALUES, auditor: {} })).toThrow(/auditor: not a party/);
  });

  it('`generate.ts --check` fails on a hand-edited manifest and passes on the committed ones', () => {
    const copy = mkdtempSync(join(tmpdir(), 'cleanroom-k8s-'));
    for (const p of PARTIES) cpSync(join(K8S_DIR, p), join(copy, p), { recursive: true });
    const script = join(K8S_DIR, 'generate.ts');
    expect(spawnSync(process.execPath, [script, '--check', '--out', copy], { encoding: 'utf8' }).status).toBe(0);
    const f = join(copy, 'media/60-statefulset.yaml');
    writeFileSync(f, readFileSync(f, 'utf8').replace('replicas: 1', 'replicas: 2'));
    const r = spawnSync(process.execPath, [script, '--check', '--out', copy], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('differs: media/60-statefulset.yaml');
  });

  for (const p of PARTIES) {
    it(`${p}: only its own node, default-deny network policy, non-root read-only pods, probes, sizing`, () => {
      const objs = committed(p).map(([, o]) => o);
      const ns = `cleanroom-${p}`;
      for (const o of objs) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe(ns);
      const others = PARTIES.filter((q) => q !== p);
      for (const o of objs) expect(others).not.toContain(o.metadata.labels?.['app.kubernetes.io/component']);

      // network: deny all, then the callers' gRPC port and the operators' admin port only
      const policies = objs.filter((o) => o.kind === 'NetworkPolicy');
      expect(policies.find((x) => x.metadata.name === 'default-deny')?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
      const allow = policies.find((x) => x.metadata.name === `${p}-allow`)!;
      expect(allow.spec.ingress.map((r: any) => r.ports.map((x: any) => x.port)).flat().sort()).toEqual([PORTS[p].admin, PORTS[p].grpc].sort());
      const grpcFrom = allow.spec.ingress.find((r: any) => r.ports[0].port === PORTS[p].grpc).from.map((x: any) => x.ipBlock.cidr);
      expect(grpcFrom.sort()).toEqual(CALLERS[p].flatMap((q) => VALUES[p].peerCidrs[q]).sort());
      expect(allow.spec.ingress.find((r: any) => r.ports[0].port === PORTS[p].admin).from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': VALUES[p].adminNamespace } } }]);

      // pods: non-root, read-only root, no privilege escalation, no capabilities, no API token
      const pods = objs.filter((o) => o.kind === 'StatefulSet' || o.kind === 'Job').map((o) => o.spec.template.spec);
      expect(pods.length).toBe(p === 'media' ? 2 + (VALUES.media.prepareShards > 1 ? 1 : 0) : 1); // media: the node, its Job and the sharded Indexed Job
      for (const pod of pods) {
        expect(pod.automountServiceAccountToken).toBe(false);
        expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
        for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
          expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
          expect(c.resources.requests.memory).toBe(memoryFor(p, p === 'advertiser' ? (VALUES[p].crmRows ?? 100_000) * 10 : VALUES[p].universeUsers).request);
        }
      }
      const sts = objs.find((o) => o.kind === 'StatefulSet')!;
      const node = sts.spec.template.spec.containers[0];
      expect(node.readinessProbe.grpc).toEqual({ port: PORTS[p].health, service: `cleanroom.v1.${p[0]!.toUpperCase()}${p.slice(1)}` });
      expect(node.livenessProbe.httpGet.path).toBe('/healthz');
      const config = objs.find((o) => o.kind === 'ConfigMap')!.data;
      expect(config.CLEANROOM_HEALTH_LISTEN).toBe(`0.0.0.0:${PORTS[p].health}`);
      expect(Object.values(config).join(' ')).not.toMatch(/BEGIN|PRIVATE|token/i); // secrets are referenced, never written
      expect(node.env).toEqual([{ name: 'CLEANROOM_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: `${p}-admin-token`, key: 'token' } } }]);
      // state survives restarts
      const claims = [...sts.spec.volumeClaimTemplates.map((c: any) => c.metadata.name), ...objs.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name)];
      expect(claims).toContain(p === 'media' ? 'media-state' : 'state');
      const stateClaim = p === 'media'
        ? objs.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === 'media-state')
        : sts.spec.volumeClaimTemplates.find((c: any) => c.metadata.name === 'state');
      expect(stateClaim.spec.resources.requests.storage).toBe(VALUES[p].stateStorage ?? stateVolumeFor(p, VALUES[p].universeUsers));
      if (p === 'media') {
        const job = objs.find((o) => o.kind === 'Job')!;
        expect(job.spec.template.spec.containers[0].args).toEqual(['node', 'services/media/src/prepare.ts']);
        expect(sts.spec.template.spec.initContainers[0].args).toEqual(['node', 'services/media/src/prepare.ts']);
      }
      expect(objs.some((o) => o.kind === 'Certificate' && o.spec.secretName === `${p}-tls`)).toBe(true);
    });
  }

  it('media: sharded preparation is an Indexed Job of N pods over the shared state, with the epoch every shard and the node name', () => {
    const files = buildParty(parseValues('media', { ...VALUES.media, prepareShards: 8, universeEpoch: 'e-test' }));
    const job = files.find((f) => f.file === 'jobs/prepare-universe-sharded.yaml')!.objects[0]!.toJSON() as any;
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 8, parallelism: 8 });
    expect(job.spec.template.spec.containers[0].args).toEqual(['node', 'services/media/src/prepare.ts', '--shards', '8']);
    expect(job.spec.template.spec.volumes.map((x: any) => x.name)).toContain('state');
    const config = files.find((f) => f.file === '20-config.yaml')!.objects[0]!.toJSON() as any;
    expect(config.data.CLEANROOM_UNIVERSE_EPOCH).toBe('e-test');
    // one shard: no Indexed Job; shards without a named epoch: refused where the values enter
    expect(buildParty(parseValues('media', { ...VALUES.media, prepareShards: 1 })).some((f) => f.file === 'jobs/prepare-universe-sharded.yaml')).toBe(false);
    const { universeEpoch: _e, ...noEpoch } = VALUES.media;
    expect(() => parseValues('media', { ...noEpoch, prepareShards: 4 })).toThrow(/media\.prepareShards: expected 1 unless media names its universeEpoch/);
    // a split universe: the node and every shard name the pattern (shard i reads universe-i.csv); media's only
    expect(config.data.CLEANROOM_DATA).toMatch(/\/data\/universe\.csv$/);
    const split = buildParty(parseValues('media', { ...VALUES.media, prepareShards: 8, universeEpoch: 'e-test', splitUniverse: true }));
    expect((split.find((f) => f.file === '20-config.yaml')!.objects[0]!.toJSON() as any).data.CLEANROOM_DATA).toMatch(/\/data\/universe-\{shard\}\.csv$/);
    expect(() => parseValues('broker', { ...VALUES.broker, splitUniverse: true })).toThrow(/broker\.splitUniverse: expected only on media/);
    expect(() => parseValues('media', { ...VALUES.media, splitUniverse: 'yes' })).toThrow(/media\.splitUniverse: expected true or false/);
  });

  it('media: with a shard store the shards need no shared volume; the node and every shard read the store and the key Secret, and may reach the store only', () => {
    const store = { url: 's3://media-universe/prep', endpoint: 'https://minio.storage.example:9000', cidrs: ['10.20.0.0/16'], credentialsSecret: 'media-shard-store' };
    const files = buildParty(parseValues('media', { ...VALUES.media, prepareShards: 8, universeEpoch: 'e-test', shardStore: store }));
    const obj = (file: string, i = 0): any => files.find((f) => f.file === file)!.objects[i]!.toJSON();
    const config = obj('20-config.yaml');
    expect(config.data).toMatchObject({ CLEANROOM_SHARD_STORE: 's3://media-universe/prep', CLEANROOM_SHARD_STORE_ENDPOINT: store.endpoint, CLEANROOM_UNIVERSE_KEY_FILE: '/etc/cleanroom/universe-key/universe-key.json' });
    const job = obj('jobs/prepare-universe-sharded.yaml');
    const state = job.spec.template.spec.volumes.find((x: any) => x.name === 'state');
    expect(state.emptyDir).toBeDefined(); // a volume of its own per pod: no ReadWriteMany claim
    expect(state.persistentVolumeClaim).toBeUndefined();
    for (const spec of [job.spec.template.spec, obj('60-statefulset.yaml').spec.template.spec]) {
      expect(spec.volumes.find((x: any) => x.name === 'universe-key').secret).toMatchObject({ secretName: 'media-universe-key', defaultMode: 0o440 });
      for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
        expect(c.volumeMounts).toContainEqual({ name: 'universe-key', mountPath: '/etc/cleanroom/universe-key', readOnly: true });
        expect(c.envFrom).toContainEqual({ secretRef: { name: 'media-shard-store' } });
      }
    }
    // egress: the node and the preparation pods reach the store's addresses on its port, and nothing else but DNS
    const policies = files.find((f) => f.file === '30-networkpolicy.yaml')!.objects.map((o) => o.toJSON() as any);
    const prep = policies.find((x) => x.metadata.name === 'media-prepare-allow');
    expect(prep.spec.podSelector.matchExpressions[0].values).toEqual(['media-prepare', 'media-prepare-shard']);
    expect(prep.spec.ingress).toEqual([]);
    const storeRule = { to: [{ ipBlock: { cidr: '10.20.0.0/16' } }], ports: [{ port: 9000, protocol: 'TCP' }] };
    expect(prep.spec.egress).toContainEqual(storeRule);
    expect(prep.spec.egress.length).toBe(2);
    expect(policies.find((x) => x.metadata.name === 'media-allow').spec.egress).toContainEqual(storeRule);
    // AWS S3 itself: port 443, credentials from the pod's web identity (no Secret)
    const aws = buildParty(parseValues('media', { ...VALUES.media, prepareShards: 8, universeEpoch: 'e-test', shardStore: { url: 's3://media-universe', cidrs: ['0.0.0.0/0'] } }));
    const awsPolicy = aws.find((f) => f.file === '30-networkpolicy.yaml')!.objects.map((o) => o.toJSON() as any).find((x) => x.metadata.name === 'media-prepare-allow');
    expect(awsPolicy.spec.egress[1].ports).toEqual([{ port: 443, protocol: 'TCP' }]);
    expect((aws.find((f) => f.file === '20-config.yaml')!.objects[0]!.toJSON() as any).data.CLEANROOM_SHARD_STORE_ENDPOINT).toBeUndefined();
    // refused where the values enter
    expect(() => parseValues('media', { ...VALUES.media, prepareShards: 1, shardStore: store })).toThrow(/media\.shardStore: expected only on media with prepareShards > 1/);
    expect(() => parseValues('media', { ...VALUES.media, shardStore: { ...store, url: 'https://x' } })).toThrow(/media\.shardStore\.url: expected s3:\/\/bucket\[\/prefix\]/);
    expect(() => parseValues('media', { ...VALUES.media, shardStore: { ...store, cidrs: [] } })).toThrow(/media\.shardStore\.cidrs: expected a non-empty list of CIDRs/);
    expect(() => parseValues('broker', { ...VALUES.broker, shardStore: store })).toThrow(/broker\.shardStore: expected only on media/);
  });

  it('media requests grow with the universe; the docs sizing table is the one the generator uses', () => {
    const small = buildParty(parseValues('media', { ...VALUES.media, universeUsers: 50_000 }));
    const large = buildParty(parseValues('media', { ...VALUES.media, universeUsers: 100_000_000 }));
    const mem = (f: ReturnType<typeof buildParty>) => (f.find((x) => x.file === '60-statefulset.yaml')!.objects[0]!.toJSON() as any).spec.template.spec.containers[0].resources.requests.memory;
    expect(parseInt(mem(large))).toBeGreaterThan(parseInt(mem(small)));
    const disk = (f: ReturnType<typeof buildParty>) => (f.find((x) => x.file === '50-volumes.yaml')!.objects[1]!.toJSON() as any).spec.resources.requests.storage;
    expect(parseInt(disk(large))).toBeGreaterThan(parseInt(disk(small)));
    expect(readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')).toContain(sizingTable());
  });
});
