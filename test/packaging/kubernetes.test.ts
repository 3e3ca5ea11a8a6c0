// The Kubernetes manifests, parsed (yaml) and checked field by field: what would make the
// exporter blind (no hostNetwork), over-privileged (capabilities beyond NET_ADMIN, privilege
// escalation, a writable root), never ready or never scraped (probes on the wrong path or port,
// a Service or ServiceMonitor that selects nothing) is a test failure, not a surprise in a cluster.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';

const DIR = path.resolve(__dirname, '..', '..', '..', 'deploy', 'kubernetes');

// The shapes this test reads; everything else in the documents is left unchecked.
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number; hostPort?: number; protocol?: string }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsUser?: number;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}
interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // The spec is walked by the tests below, each asserting the fields it reads.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped YAML, checked field by field
  spec?: any;
}

function load(file: string): Doc[] {
  const docs = parseAllDocuments(fs.readFileSync(path.join(DIR, file), 'utf8'));
  const out: Doc[] = [];
  for (const d of docs) {
    assert.deepEqual(d.errors, [], `${file}: YAML errors`);
    const v = d.toJS() as Doc | null;
    if (v === null) continue;
    assert.ok(
      v.apiVersion && v.kind && v.metadata?.name,
      `${file}: a document without apiVersion, kind or metadata.name`,
    );
    out.push(v);
  }
  return out;
}

/** Kubernetes memory quantity to bytes (Ki, Mi, Gi, k, M, G, plain). */
function bytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(q);
  assert.ok(m, `memory quantity ${q}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

describe('kubernetes manifests', () => {
  const docs = load('daemonset.yaml');
  const one = (kind: string): Doc => {
    const found = docs.filter((d) => d.kind === kind);
    assert.equal(found.length, 1, `one ${kind} in daemonset.yaml`);
    return found[0]!;
  };
  const ds = one('DaemonSet');
  const svc = one('Service');
  const pod = ds.spec.template;
  const containers = pod.spec.containers as Container[];
  const c = containers[0]!;

  test("the DaemonSet: apps/v1, its selector matches its pods, in the manifest's namespace", () => {
    assert.equal(ds.apiVersion, 'apps/v1');
    assert.ok(
      matches(ds.spec.selector.matchLabels, pod.metadata.labels),
      'selector.matchLabels must match the pod template labels',
    );
    const ns = one('Namespace').metadata.name;
    for (const d of docs.filter((x) => x.kind !== 'Namespace'))
      assert.equal(d.metadata.namespace, ns, `${d.kind} ${d.metadata.name} namespace`);
    assert.equal(containers.length, 1);
  });

  test('host network, nothing else of the host: hostNetwork, no hostPID/hostIPC, no host paths, no API token', () => {
    assert.equal(pod.spec.hostNetwork, true);
    assert.notEqual(pod.spec.hostPID, true);
    assert.notEqual(pod.spec.hostIPC, true);
    assert.equal(
      pod.spec.dnsPolicy,
      'ClusterFirstWithHostNet',
      'with hostNetwork, cluster DNS needs ClusterFirstWithHostNet',
    );
    assert.equal(pod.spec.automountServiceAccountToken, false);
    assert.equal(pod.spec.volumes, undefined, 'no volumes by default (/run/netns only when watching other namespaces)');
  });

  test('capabilities: drop ALL, add NET_ADMIN only (SYS_ADMIN only for --netns, not by default); no escalation, read-only root, seccomp', () => {
    const sc = c.securityContext!;
    assert.deepEqual(sc.capabilities?.drop, ['ALL']);
    assert.deepEqual(sc.capabilities?.add, ['NET_ADMIN']);
    assert.notEqual(sc.privileged, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    // uid 0 only because Kubernetes has no ambient capabilities (see the manifest's comment).
    assert.equal(sc.runAsUser, 0);
    assert.equal(pod.spec.securityContext?.seccompProfile?.type, 'RuntimeDefault');
    assert.ok(!(c.args ?? []).some((a) => a.startsWith('--netns')), 'no --netns by default: it would need SYS_ADMIN');
  });

  test('port 9932, readiness on /-/ready and liveness on /-/healthy on that port, memory limited', () => {
    const port = c.ports?.find((p) => p.name === 'metrics');
    assert.ok(port, 'a container port named metrics');
    assert.equal(port.containerPort, 9932);
    assert.equal(port.hostPort, 9932, 'with hostNetwork the host port is the container port');
    const listen = (c.args ?? []).find((a) => a.startsWith('--web.listen-address='));
    if (listen) assert.match(listen, /:9932$/, 'the flag and the port agree');
    for (const [probe, p] of [
      [c.readinessProbe, '/-/ready'],
      [c.livenessProbe, '/-/healthy'],
    ] as const) {
      assert.equal(probe?.httpGet?.path, p);
      assert.ok(probe?.httpGet?.port === 'metrics' || probe?.httpGet?.port === 9932, `${p} probe port`);
    }
    const limit = bytes(c.resources!.limits!.memory!);
    assert.ok(limit >= 128 * 1024 ** 2 && limit <= 512 * 1024 ** 2, `memory limit ${c.resources!.limits!.memory}`);
    assert.ok(bytes(c.resources!.requests!.memory!) <= limit);
    assert.match(c.image, /netlink-exporter:/);
  });

  test('the Service: headless, selects the pods, port named metrics, Prometheus scrape annotations', () => {
    assert.equal(svc.spec.clusterIP, 'None');
    assert.ok(matches(svc.spec.selector, pod.metadata.labels), 'the Service selects the DaemonSet pods');
    const sp = (svc.spec.ports as { name: string; port: number; targetPort: string | number }[]).find(
      (p) => p.name === 'metrics',
    );
    assert.ok(sp);
    assert.equal(sp.port, 9932);
    assert.ok(sp.targetPort === 'metrics' || sp.targetPort === 9932);
    for (const a of [svc.metadata.annotations, pod.metadata.annotations]) {
      assert.equal(a?.['prometheus.io/scrape'], 'true');
      assert.equal(a?.['prometheus.io/port'], '9932');
      assert.equal(a?.['prometheus.io/path'], '/metrics');
    }
  });

  test('the ServiceMonitor selects the Service and its metrics port, with the node name as instance', () => {
    const sm = load('servicemonitor.yaml');
    assert.equal(sm.length, 1);
    const m = sm[0]!;
    assert.equal(m.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(m.kind, 'ServiceMonitor');
    assert.ok(matches(m.spec.selector.matchLabels, svc.metadata.labels), 'the ServiceMonitor selects the Service');
    assert.ok((m.spec.namespaceSelector.matchNames as string[]).includes(svc.metadata.namespace!));
    const ep = (
      m.spec.endpoints as {
        port: string;
        path: string;
        relabelings?: { sourceLabels: string[]; targetLabel: string }[];
      }[]
    )[0]!;
    assert.equal(ep.port, 'metrics');
    assert.equal(ep.path, '/metrics');
    assert.ok(
      ep.relabelings?.some(
        (r) => r.sourceLabels.includes('__meta_kubernetes_pod_node_name') && r.targetLabel === 'instance',
      ),
    );
  });
});
