/**
 * Kubernetes manifests for ONE party's node, built as typed objects with `kubernetes-models`
 * (and `@kubernetes-models/cert-manager`) and validated against the Kubernetes OpenAPI
 * schema before they are returned: a wrong type or value throws, naming the field; an
 * unknown field name does not type-check (tsc).
 *
 * Per party, in its own namespace: Namespace (Pod Security "restricted"), ServiceAccount
 * without an API token, ConfigMap (non-secret settings), Service (peer gRPC port, admin
 * port, plaintext health port), StatefulSet (1 replica: sessions live in the process) with
 * persistent volumes for state and transcripts, default-deny NetworkPolicy (ingress: the
 * gRPC port from the peers' CIDRs only, the admin port from one operators' namespace only;
 * egress: DNS and the peers' gRPC ports only), and for media a Job that prepares the
 * universe and a PersistentVolumeClaim for the data both use (with `shardStore`, the sharded
 * Job's pods write to volumes of their own and reach object storage, as the node does).
 * Optional: a cert-manager
 * Certificate that fills the TLS Secret. Secrets themselves are referenced, never written.
 *
 * Input (`PartyValues`) is validated where it enters (`parseValues`), with messages that
 * name the field.
 */
import { ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount, type IContainer, type IPodSpec, type IVolume } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { NetworkPolicy, type INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1';
import { Certificate } from '@kubernetes-models/cert-manager/cert-manager.io/v1';
import { CPU_REQUEST, memoryFor, stateVolumeFor } from './sizing.ts';
import { PARTIES, perParty, type Party } from '../../shared/src/common/names.ts';
import { parseStoreUrl } from '../../shared/src/service/store-url.ts';
import { callersOfParty } from '../../shared/src/common/methods.ts';

export { PARTIES, type Party };

/** Ports inside the pod (the node's defaults; the health port is the gRPC port + 10). */
export const PORTS: Record<Party, { grpc: number; admin: number; health: number }> = {
  advertiser: { grpc: 50051, admin: 8081, health: 50061 },
  media: { grpc: 50052, admin: 8082, health: 50062 },
  broker: { grpc: 50053, admin: 8083, health: 50063 },
};

/** Who calls whom over gRPC (the role table, shared/src/rpc/grpc.ts). */
/** Who may call each party: the role table (common/methods.ts). */
export const CALLERS: Readonly<Record<Party, readonly Party[]>> = perParty(callersOfParty);
/**
 * Whom each party's node calls (its egress): fewer than the role table allows — media only
 * answers the broker; it never uses its permission to call Broker.Abort.
 */
export const CALLS: Readonly<Record<Party, readonly Party[]>> = { advertiser: ['broker'], media: [], broker: ['media', 'advertiser'] };

export interface PartyValues {
  party: Party;
  namespace: string;
  image: string;
  /** Pods in this namespace may reach the admin API (operators, Prometheus). */
  adminNamespace: string;
  /** Where each peer's traffic comes from and goes to (its egress / load balancer addresses). */
  peerCidrs: Partial<Record<Party, string[]>>;
  /** host:port of each peer this node calls. */
  peerAddresses: Partial<Record<Party, string>>;
  /** Universe users the node is sized for (media's own universe; the broker holds its publication). */
  universeUsers: number;
  /** Advertiser only: CRM rows it is sized for (its memory follows the CRM, not the universe). */
  crmRows: number;
  storageClassName: string | undefined;
  stateStorage: string;
  transcriptStorage: string;
  dataStorage: string;
  /** Name of the Secret holding the bearer token (key `token`). */
  adminTokenSecret: string;
  /** TLS Secret (keys tls.crt, tls.key), signing-key Secret (key signing.json), trust ConfigMap (trust-ca.pem, trust-bundle.json). */
  tlsSecret: string;
  signingSecret: string;
  trustConfigMap: string;
  /**
   * Media only: shards of the Indexed Job `jobs/prepare-universe-sharded.yaml` (emitted when
   * > 1; each pod prepares shard JOB_COMPLETION_INDEX of N, the node merges them). Shards on
   * several machines need a ReadWriteMany storage class for the state volume.
   */
  prepareShards: number;
  /** Media only: CLEANROOM_UNIVERSE_EPOCH (sharded preparation needs every shard and the node to name it). */
  universeEpoch: string | undefined;
  /**
   * Media only: the universe as a split source — data/universe-0.csv, universe-1.csv, … on the
   * data volume (CLEANROOM_DATA = data/universe-{shard}.csv), read in order as one; with
   * `prepareShards` = N, shard i reads universe-i.csv alone (the data volume must hold N files).
   */
  splitUniverse: boolean;
  /**
   * Media only: shards through object storage instead of a shared volume (CLEANROOM_SHARD_STORE,
   * docs/operations.md). `url` s3://bucket/prefix; `endpoint` for a server other than AWS S3
   * (MinIO…); `cidrs` where the store answers (egress is default-deny); `credentialsSecret` a
   * Secret whose keys become the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), unset
   * for a web identity (EKS, GKE); `keySecret` the Secret holding `universe-key.json`
   * (`cleanroom universe key`), mounted into every shard and the node. The shards then write to
   * an emptyDir of their own: no ReadWriteMany volume.
   */
  shardStore: { url: string; endpoint: string | undefined; cidrs: string[]; credentialsSecret: string | undefined; keySecret: string } | undefined;
  /** Media only: serve the lookup kind — CLEANROOM_LABELS = data/labels.csv on the data volume (docs/protocol.md §8). */
  labels: boolean;
  /** Broker only: policy. */
  minDecoyRatio: number;
  minCohort: number;
  /** Emits certificate.yaml (cert-manager) when set. */
  certManager: { issuerName: string; issuerKind: 'Issuer' | 'ClusterIssuer'; dnsNames: string[] } | undefined;
}

export class ValuesError extends Error {}

const DNS1123 = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$|^[0-9a-fA-F:]+\/\d{1,3}$/;
const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti)$/;
const HOSTPORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

/** Validates raw values (JSON) for `party`, filling defaults; every problem is reported at once. */
export function parseValues(party: Party, raw: unknown): PartyValues {
  if (!PARTIES.includes(party)) throw new ValuesError(`expected a party (advertiser, media, broker), got '${String(party)}'`);
  const r = (raw ?? {}) as Record<string, unknown>;
  if (typeof r !== 'object' || Array.isArray(r)) throw new ValuesError(`${party}: expected an object of values, got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
  const problems: string[] = [];
  const str = (k: string, def: string, re?: RegExp, what?: string): string => {
    const v = r[k] ?? def;
    if (typeof v !== 'string' || (re && !re.test(v))) problems.push(`${party}.${k}: expected ${what ?? 'a string'}, got ${JSON.stringify(v)}`);
    return String(v);
  };
  const int = (k: string, def: number, min: number, max: number): number => {
    const v = r[k] ?? def;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) problems.push(`${party}.${k}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  const known = new Set(['namespace', 'image', 'adminNamespace', 'peerCidrs', 'peerAddresses', 'universeUsers', 'crmRows', 'storageClassName', 'stateStorage', 'transcriptStorage', 'dataStorage',
    'adminTokenSecret', 'tlsSecret', 'signingSecret', 'trustConfigMap', 'minDecoyRatio', 'minCohort', 'certManager', 'prepareShards', 'universeEpoch', 'splitUniverse', 'labels', 'shardStore']);
  for (const k of Object.keys(r)) if (!known.has(k)) problems.push(`${party}.${k}: unknown setting`);

  const peerCidrs: Partial<Record<Party, string[]>> = {};
  const rawCidrs = (r.peerCidrs ?? {}) as Record<string, unknown>;
  for (const peer of CALLERS[party].concat(CALLS[party]).filter((p, i, a) => a.indexOf(p) === i)) {
    const v = rawCidrs[peer];
    if (!Array.isArray(v) || v.length === 0 || !v.every((c) => typeof c === 'string' && CIDR.test(c))) {
      problems.push(`${party}.peerCidrs.${peer}: expected a non-empty list of CIDRs (the ${peer}'s addresses), got ${JSON.stringify(v)}`);
    } else peerCidrs[peer] = v as string[];
  }
  const peerAddresses: Partial<Record<Party, string>> = {};
  const rawAddrs = (r.peerAddresses ?? {}) as Record<string, unknown>;
  for (const peer of CALLS[party]) {
    const v = rawAddrs[peer];
    if (typeof v !== 'string' || !HOSTPORT.test(v)) problems.push(`${party}.peerAddresses.${peer}: expected host:port, got ${JSON.stringify(v)}`);
    else peerAddresses[peer] = v;
  }
  let certManager: PartyValues['certManager'];
  if (r.certManager !== undefined) {
    const c = r.certManager as Record<string, unknown>;
    const okNames = Array.isArray(c.dnsNames) && c.dnsNames.length > 0 && c.dnsNames.every((d) => typeof d === 'string' && /^[a-z0-9.-]+$/.test(d));
    if (typeof c.issuerName !== 'string' || !DNS1123.test(c.issuerName) || (c.issuerKind !== 'Issuer' && c.issuerKind !== 'ClusterIssuer') || !okNames) {
      problems.push(`${party}.certManager: expected {issuerName, issuerKind: Issuer|ClusterIssuer, dnsNames: [...]}, got ${JSON.stringify(c)}`);
    } else certManager = { issuerName: c.issuerName, issuerKind: c.issuerKind, dnsNames: c.dnsNames as string[] };
  }
  let shardStore: PartyValues['shardStore'];
  if (r.shardStore !== undefined) {
    const x = (r.shardStore ?? {}) as Record<string, unknown>;
    const bad = (what: string): void => void problems.push(`${party}.shardStore.${what}, got ${JSON.stringify(r.shardStore)}`);
    let urlOk = typeof x.url === 'string';
    if (urlOk) try { parseStoreUrl(x.url as string); } catch { urlOk = false; }
    if (!urlOk) bad('url: expected s3://bucket[/prefix]');
    if (x.endpoint !== undefined && (typeof x.endpoint !== 'string' || !/^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/.test(x.endpoint))) bad('endpoint: expected http(s)://host[:port]');
    if (!Array.isArray(x.cidrs) || x.cidrs.length === 0 || !x.cidrs.every((c) => typeof c === 'string' && CIDR.test(c))) bad('cidrs: expected a non-empty list of CIDRs (where the store answers)');
    if (x.credentialsSecret !== undefined && (typeof x.credentialsSecret !== 'string' || !DNS1123.test(x.credentialsSecret))) bad('credentialsSecret: expected a Secret name');
    if (x.keySecret !== undefined && (typeof x.keySecret !== 'string' || !DNS1123.test(x.keySecret))) bad('keySecret: expected a Secret name');
    shardStore = { url: String(x.url), endpoint: x.endpoint as string | undefined, cidrs: (x.cidrs ?? []) as string[], credentialsSecret: x.credentialsSecret as string | undefined, keySecret: (x.keySecret as string | undefined) ?? 'media-universe-key' };
  }
  const storageClassName = r.storageClassName === undefined ? undefined : str('storageClassName', '', DNS1123, 'a storage class name');
  const universeUsers = int('universeUsers', 1_000_000, 1000, 1_000_000_000);
  const v: PartyValues = {
    party,
    namespace: str('namespace', `cleanroom-${party}`, DNS1123, 'a DNS-1123 label'),
    image: str('image', 'cleanroom/node:0.1.0', /^[a-z0-9./:@_-]+$/i, 'an image reference'),
    adminNamespace: str('adminNamespace', 'cleanroom-operators', DNS1123, 'a DNS-1123 label'),
    peerCidrs, peerAddresses,
    universeUsers,
    crmRows: int('crmRows', 100_000, 100, 100_000_000),
    storageClassName,
    // default: from the sizing table (media: universe + publication; broker: its copy of the publication)
    stateStorage: str('stateStorage', Number.isSafeInteger(universeUsers) && universeUsers >= 1 ? stateVolumeFor(party, universeUsers) : '1Gi', QUANTITY, 'a storage quantity like 10Gi'),
    transcriptStorage: str('transcriptStorage', '10Gi', QUANTITY, 'a storage quantity like 10Gi'),
    dataStorage: str('dataStorage', '20Gi', QUANTITY, 'a storage quantity like 20Gi'),
    adminTokenSecret: str('adminTokenSecret', `${party}-admin-token`, DNS1123, 'a Secret name'),
    tlsSecret: str('tlsSecret', `${party}-tls`, DNS1123, 'a Secret name'),
    signingSecret: str('signingSecret', `${party}-signing`, DNS1123, 'a Secret name'),
    trustConfigMap: str('trustConfigMap', 'cleanroom-trust', DNS1123, 'a ConfigMap name'),
    minDecoyRatio: int('minDecoyRatio', 9, 1, 99),
    minCohort: int('minCohort', 50, 1, 1_000_000),
    certManager,
    prepareShards: int('prepareShards', 1, 1, 10_000),
    universeEpoch: r.universeEpoch === undefined ? undefined : str('universeEpoch', '', /^[A-Za-z0-9._-]{1,64}$/, 'an epoch name (letters, digits, . _ -)'),
    splitUniverse: r.splitUniverse === true,
    labels: r.labels === undefined ? false : r.labels === true,
    shardStore,
  };
  if (r.splitUniverse !== undefined && typeof r.splitUniverse !== 'boolean') problems.push(`${party}.splitUniverse: expected true or false, got ${JSON.stringify(r.splitUniverse)}`);
  if (v.splitUniverse && party !== 'media') problems.push(`${party}.splitUniverse: expected only on media (the universe is media's), got true`);
  if (r.labels !== undefined && typeof r.labels !== 'boolean') problems.push(`${party}.labels: expected true or false, got ${JSON.stringify(r.labels)}`);
  if (v.labels === true && party !== 'media') problems.push(`${party}.labels: expected only on media (the labels are media's), got true`);
  if (v.prepareShards > 1 && (party !== 'media' || v.universeEpoch === undefined)) {
    problems.push(`${party}.prepareShards: expected 1 unless media names its universeEpoch (every shard and the node must use the same), got ${v.prepareShards}`);
  }
  if (shardStore && (party !== 'media' || v.prepareShards < 2)) {
    problems.push(`${party}.shardStore: expected only on media with prepareShards > 1 (the store carries the shards to the node), got prepareShards ${v.prepareShards}`);
  }
  if (problems.length > 0) throw new ValuesError(`invalid values:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return v;
}

/** One manifest file: its name and its validated objects. */
export interface ManifestFile {
  file: string;
  objects: { toJSON(): unknown; validate(): void }[];
}

const MOUNT = '/var/lib/cleanroom';
/** Where media's universe key Secret is mounted (with a shard store). */
const KEY_MOUNT = '/etc/cleanroom/universe-key';

/** What every object of one party's manifests shares: its values, ports, labels and metadata. */
interface PartyContext {
  v: PartyValues;
  p: Party;
  ports: { grpc: number; admin: number; health: number };
  labels: Record<string, string>;
  meta: (name: string) => { name: string; namespace: string; labels: Record<string, string> };
  /** Advertiser and media read a data volume; the broker has none. */
  hasData: boolean;
}

/** Every manifest file of one party, validated against the schema (throws on the first invalid object). */
export function buildParty(v: PartyValues): ManifestFile[] {
  const p = v.party;
  const labels = { 'app.kubernetes.io/name': 'cleanroom', 'app.kubernetes.io/component': p, 'app.kubernetes.io/part-of': 'cleanroom' };
  const c: PartyContext = { v, p, ports: PORTS[p], labels, meta: (name) => ({ name, namespace: v.namespace, labels }), hasData: p !== 'broker' };
  const configMap = configMapFor(c);
  const container = containerFor(c, configMap.metadata!.name!);
  const volumes = volumesFor(c);
  const prepare = prepareContainerFor(container);
  const podSpec = podSpecFor(c, container, prepare, volumes);

  const files: ManifestFile[] = [
    { file: '00-namespace.yaml', objects: [new Namespace({ metadata: { name: v.namespace, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } } })] },
    { file: '10-serviceaccount.yaml', objects: [new ServiceAccount({ metadata: c.meta(p), automountServiceAccountToken: false })] },
    { file: '20-config.yaml', objects: [configMap] },
    { file: '30-networkpolicy.yaml', objects: networkPoliciesFor(c) },
    { file: '40-service.yaml', objects: [serviceFor(c)] },
  ];
  if (c.hasData) files.push({ file: '50-volumes.yaml', objects: volumeClaimsFor(c) });
  files.push({ file: '60-statefulset.yaml', objects: [statefulSetFor(c, podSpec)] });
  if (p === 'media') files.push(...prepareJobsFor(c, podSpec, prepare, volumes));
  if (v.certManager) files.push({ file: 'optional/certificate.yaml', objects: [certificateFor(c, v.certManager)] });
  for (const f of files) for (const o of f.objects) o.validate();
  return files;
}

/** The node's settings (environment), as the party's ConfigMap. */
function configMapFor({ v, p, ports, meta }: PartyContext): ConfigMap {
  const env: Record<string, string> = {
    CLEANROOM_GRPC_LISTEN: `0.0.0.0:${ports.grpc}`,
    CLEANROOM_ADMIN_LISTEN: `0.0.0.0:${ports.admin}`,
    CLEANROOM_HEALTH_LISTEN: `0.0.0.0:${ports.health}`,
    CLEANROOM_STATE_DIR: `${MOUNT}/state`,
    CLEANROOM_TRANSCRIPT_DIR: `${MOUNT}/transcripts`,
    CLEANROOM_PKI_DIR: `${MOUNT}/pki`,
    CLEANROOM_LOG_LEVEL: 'info',
    ...(p === 'advertiser' ? { CLEANROOM_DATA: `${MOUNT}/data/crm.csv`, CLEANROOM_BROKER_ADDR: v.peerAddresses.broker! } : {}),
    ...(p === 'media' ? { CLEANROOM_DATA: `${MOUNT}/data/${v.splitUniverse ? 'universe-{shard}.csv' : 'universe.csv'}`, CLEANROOM_EVAL_THREADS: '2', ...(v.universeEpoch ? { CLEANROOM_UNIVERSE_EPOCH: v.universeEpoch } : {}), ...(v.labels ? { CLEANROOM_LABELS: `${MOUNT}/data/labels.csv` } : {}),
      ...(v.shardStore ? { CLEANROOM_SHARD_STORE: v.shardStore.url, CLEANROOM_UNIVERSE_KEY_FILE: `${KEY_MOUNT}/universe-key.json`, ...(v.shardStore.endpoint ? { CLEANROOM_SHARD_STORE_ENDPOINT: v.shardStore.endpoint } : {}) } : {}) } : {}),
    ...(p === 'broker' ? {
      CLEANROOM_MEDIA_ADDR: v.peerAddresses.media!, CLEANROOM_ADVERTISER_ADDR: v.peerAddresses.advertiser!,
      CLEANROOM_MIN_DECOY_RATIO: String(v.minDecoyRatio), CLEANROOM_MIN_COHORT: String(v.minCohort),
    } : {}),
  };
  return new ConfigMap({ metadata: meta(`${p}-config`), data: env });
}

/** The node's container: its image, settings, ports, resources, probes and mounts. */
function containerFor({ v, p, ports, hasData }: PartyContext, configMapName: string): IContainer {
  // sizing.ts measured the advertiser with a CRM of users/10 rows
  const mem = memoryFor(p, p === 'advertiser' ? v.crmRows * 10 : v.universeUsers);
  const securityContext = {
    runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' as const },
  };
  return {
    name: p,
    image: v.image,
    imagePullPolicy: 'IfNotPresent',
    args: ['node', `services/${p}/src/main.ts`],
    envFrom: [{ configMapRef: { name: configMapName } }, ...(v.shardStore?.credentialsSecret ? [{ secretRef: { name: v.shardStore.credentialsSecret } }] : [])],
    env: [{ name: 'CLEANROOM_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: v.adminTokenSecret, key: 'token' } } }],
    ports: [
      { name: 'grpc', containerPort: ports.grpc, protocol: 'TCP' },
      { name: 'admin', containerPort: ports.admin, protocol: 'TCP' },
      { name: 'health', containerPort: ports.health, protocol: 'TCP' },
    ],
    resources: { requests: { cpu: CPU_REQUEST[p], memory: mem.request }, limits: { memory: mem.limit } },
    // Media serves health NOT_SERVING while it prepares; the Job normally did that already.
    startupProbe: { grpc: { port: ports.health, service: '' }, periodSeconds: 10, failureThreshold: p === 'media' ? 60 : 30 },
    readinessProbe: { grpc: { port: ports.health, service: `cleanroom.v1.${p[0]!.toUpperCase()}${p.slice(1)}` }, periodSeconds: 10, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 3 },
    securityContext,
    volumeMounts: [
      { name: 'state', mountPath: `${MOUNT}/state` },
      { name: 'transcripts', mountPath: `${MOUNT}/transcripts` },
      { name: 'pki', mountPath: `${MOUNT}/pki`, readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      ...(hasData ? [{ name: 'data', mountPath: `${MOUNT}/data`, readOnly: true }] : []),
      ...(v.shardStore ? [{ name: 'universe-key', mountPath: KEY_MOUNT, readOnly: true }] : []),
    ],
  };
}

/** The pod's volumes: the projected PKI (TLS, signing key, trust), scratch, data and media's shared state. */
function volumesFor({ v, p, hasData }: PartyContext): IVolume[] {
  const pkiVolume: IVolume = {
    name: 'pki',
    projected: {
      defaultMode: 0o440,
      sources: [
        { secret: { name: v.tlsSecret, items: [{ key: 'tls.crt', path: `${p}.crt.pem` }, { key: 'tls.key', path: `${p}.key.pem` }] } },
        { secret: { name: v.signingSecret, items: [{ key: 'signing.json', path: `${p}.signing.json` }] } },
        { configMap: { name: v.trustConfigMap, items: [{ key: 'trust-ca.pem', path: 'trust-ca.pem' }, { key: 'trust-bundle.json', path: 'trust-bundle.json' }] } },
      ],
    },
  };
  return [
    pkiVolume,
    { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } },
    ...(hasData ? [{ name: 'data', persistentVolumeClaim: { claimName: `${p}-data`, readOnly: true } }] : []),
    // media: the universe Job and the node share one state volume (the Job prepares, the node reuses)
    ...(p === 'media' ? [{ name: 'state', persistentVolumeClaim: { claimName: 'media-state' } }] : []),
    // media with a shard store: the epoch's key, which every shard and the node read
    ...(v.shardStore ? [{ name: 'universe-key', secret: { secretName: v.shardStore.keySecret, defaultMode: 0o440, items: [{ key: 'universe-key.json', path: 'universe-key.json' }] } }] : []),
  ];
}

/** A ReadWriteOnce claim of `size` (a StatefulSet claim template, or a PersistentVolumeClaim's body). */
function claimFor({ v, labels }: PartyContext, name: string, size: string) {
  return {
    metadata: { name, labels },
    spec: { accessModes: ['ReadWriteOnce' as const], ...(v.storageClassName ? { storageClassName: v.storageClassName } : {}), resources: { requests: { storage: size } } },
  };
}

/** Media's universe preparation: the node's container running prepare.ts, without ports, probes, transcripts or PKI. */
function prepareContainerFor(container: IContainer): IContainer {
  // media: prepares (or, normally, reuses what the Job prepared) before the node starts
  return {
    ...container,
    name: 'prepare-universe',
    args: ['node', 'services/media/src/prepare.ts'],
    env: undefined,
    ports: undefined,
    startupProbe: undefined, readinessProbe: undefined, livenessProbe: undefined,
    volumeMounts: container.volumeMounts!.filter((m) => m.name !== 'transcripts' && m.name !== 'pki'),
  };
}

/** The node's pod (media's prepares its universe first, as an init container). */
function podSpecFor({ p }: PartyContext, container: IContainer, prepare: IContainer, volumes: IVolume[]): IPodSpec {
  const podSecurity = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' as const } };
  return {
    serviceAccountName: p,
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: podSecurity,
    terminationGracePeriodSeconds: 30,
    ...(p === 'media' ? { initContainers: [prepare] } : {}),
    containers: [container],
    volumes,
  };
}

function statefulSetFor(c: PartyContext, podSpec: IPodSpec): StatefulSet {
  const { v, p, labels } = c;
  return new StatefulSet({
    metadata: c.meta(p),
    spec: {
      serviceName: p,
      replicas: 1,
      podManagementPolicy: 'OrderedReady',
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: podSpec },
      volumeClaimTemplates: [
        ...(p === 'media' ? [] : [claimFor(c, 'state', v.stateStorage)]),
        claimFor(c, 'transcripts', v.transcriptStorage),
      ],
    },
  });
}

function serviceFor({ p, ports, labels, meta }: PartyContext): Service {
  return new Service({
    metadata: meta(p),
    spec: {
      selector: labels,
      ports: [
        { name: 'grpc', port: ports.grpc, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'grpc' },
        { name: 'admin', port: ports.admin, targetPort: 'admin', protocol: 'TCP' },
      ],
    },
  });
}

/** Default deny, then: gRPC in from the party's callers, admin in from the admin namespace, DNS and the party's calls out. */
function networkPoliciesFor({ v, p, ports, labels, meta }: PartyContext): NetworkPolicy[] {
  const peersIn = CALLERS[p].flatMap((q) => (v.peerCidrs[q] ?? []).map((cidr): INetworkPolicyPeer => ({ ipBlock: { cidr } })));
  const dnsEgress = { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }], ports: [{ port: 53, protocol: 'UDP' as const }, { port: 53, protocol: 'TCP' as const }] };
  // media with a shard store: out to the store's addresses, on its endpoint's port (443 for AWS S3)
  const storePort = v.shardStore?.endpoint ? Number(new URL(v.shardStore.endpoint).port || (v.shardStore.endpoint.startsWith('https:') ? 443 : 80)) : 443;
  const storeEgress = v.shardStore ? { to: v.shardStore.cidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: storePort, protocol: 'TCP' as const }] } : undefined;
  return [
    new NetworkPolicy({ metadata: meta('default-deny'), spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }),
    new NetworkPolicy({
      metadata: meta(`${p}-allow`),
      spec: {
        podSelector: { matchLabels: labels },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [
          { from: peersIn, ports: [{ port: ports.grpc, protocol: 'TCP' }] },
          { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': v.adminNamespace } } }], ports: [{ port: ports.admin, protocol: 'TCP' }] },
        ],
        egress: [
          dnsEgress,
          ...CALLS[p].map((q) => ({ to: (v.peerCidrs[q] ?? []).map((cidr) => ({ ipBlock: { cidr } })), ports: [{ port: Number(v.peerAddresses[q]!.split(':').pop()), protocol: 'TCP' as const }] })),
          ...(storeEgress ? [storeEgress] : []),
        ],
      },
    }),
    // media's preparation pods (the Job, the Indexed Job's shards): no ingress; DNS and the store out
    ...(storeEgress ? [new NetworkPolicy({
      metadata: meta('media-prepare-allow'),
      spec: {
        podSelector: { matchLabels: { 'app.kubernetes.io/name': labels['app.kubernetes.io/name']! }, matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['media-prepare', 'media-prepare-shard'] }] },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [],
        egress: [dnsEgress, storeEgress],
      },
    })] : []),
  ];
}

/** The data claim (advertiser, media) and media's state claim, shared with its preparation Job. */
function volumeClaimsFor(c: PartyContext): PersistentVolumeClaim[] {
  const { v, p, meta } = c;
  const dataClaim = `${p}-data`;
  const claims = [new PersistentVolumeClaim({ ...claimFor(c, dataClaim, v.dataStorage), metadata: meta(dataClaim) })];
  if (p === 'media') claims.push(new PersistentVolumeClaim({ ...claimFor(c, 'media-state', v.stateStorage), metadata: meta('media-state') }));
  return claims;
}

/** Media's universe preparation as a Job, and as an Indexed Job over `prepareShards` shards when there are several. */
function prepareJobsFor({ v, labels, meta }: PartyContext, podSpec: IPodSpec, prepare: IContainer, volumes: IVolume[]): ManifestFile[] {
  const files: ManifestFile[] = [];
  const job = new Job({
    metadata: meta('media-prepare-universe'),
    spec: {
      backoffLimit: 2,
      ttlSecondsAfterFinished: 86_400,
      template: {
        metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'media-prepare' } },
        spec: {
          ...podSpec,
          initContainers: undefined,
          restartPolicy: 'OnFailure',
          containers: [prepare],
          volumes: volumes.filter((x) => x.name !== 'pki'),
          // the state volume is ReadWriteOnce: run beside the media pod when it exists
          affinity: { podAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: labels }, topologyKey: 'kubernetes.io/hostname' } }] } },
        },
      },
    },
  });
  files.push({ file: 'jobs/prepare-universe.yaml', objects: [job] });
  if (v.prepareShards > 1) {
    // The same pod, as an Indexed Job: pod i prepares shard i of N (JOB_COMPLETION_INDEX), all at once.
    const sharded = new Job({
      metadata: meta('media-prepare-universe-sharded'),
      spec: {
        completionMode: 'Indexed',
        completions: v.prepareShards,
        parallelism: v.prepareShards,
        backoffLimitPerIndex: 2,
        maxFailedIndexes: 0,
        ttlSecondsAfterFinished: 86_400,
        template: {
          metadata: { labels: { ...labels, 'app.kubernetes.io/component': 'media-prepare-shard' } },
          spec: {
            ...job.spec!.template.spec!,
            restartPolicy: 'Never',
            containers: [{ ...prepare, name: 'prepare-shard', args: ['node', 'services/media/src/prepare.ts', '--shards', String(v.prepareShards)] }],
            affinity: undefined,
            // with a shard store each pod writes to a volume of its own and uploads: no shared volume
            ...(v.shardStore ? { volumes: job.spec!.template.spec!.volumes!.map((x) => (x.name === 'state' ? { name: 'state', emptyDir: { sizeLimit: stateVolumeFor('media', Math.ceil(v.universeUsers / v.prepareShards)) } } : x)) } : {}),
          },
        },
      },
    });
    files.push({ file: 'jobs/prepare-universe-sharded.yaml', objects: [sharded] });
  }
  return files;
}

/** The party's TLS certificate from cert-manager (optional). */
function certificateFor({ v, p, meta }: PartyContext, certManager: NonNullable<PartyValues['certManager']>): Certificate {
  return new Certificate({
    metadata: meta(`${p}-tls`),
    spec: {
      secretName: v.tlsSecret,
      commonName: p,
      subject: { organizationalUnits: [p] },
      dnsNames: certManager.dnsNames,
      usages: ['server auth', 'client auth', 'digital signature', 'key encipherment'],
      privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
      duration: '2160h',
      renewBefore: '360h',
      issuerRef: { name: certManager.issuerName, kind: certManager.issuerKind },
    },
  });
}
