// Container names and the create options of a new app container.
import type { ContainerCreateOptions } from '../host/engine.ts';
import { LABEL, provenanceLabels, type ProvenanceLabelsOf } from '../labels.ts';
import type { DeploySettings } from '../settings/index.ts';
import type { GpuRequest } from '../settings/container.ts';
import { blueGreenOf } from '../settings/rollout.ts';

/** `20261122T085353Z` from an ISO time: sortable, valid in a container name. */
export function compactTime(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `<app>-<time>-<digest12>`: unique per deploy, readable in `docker ps`, sorted by time. */
export function containerName(app: string, digest: string, at: string): string {
  const short = digest.replace(/^sha256:/, '').slice(0, 12);
  return `${app}-${compactTime(at).toLowerCase()}-${short}`;
}

/** The managed nginx proxy of a blue-green app. */
export function proxyName(app: string): string {
  return `${app}-proxy`;
}

export function lockName(app: string): string {
  return `gangway-lock.${app}`;
}

export function appLabels(app: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.role]: 'app', [LABEL.app]: app };
}

/** The labels that find every worker container of an app (any role, any release). */
export function workerLabels(app: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.role]: 'worker', [LABEL.app]: app };
}

/** `gpus` as the engine's device request: what `docker run --gpus` sends, for the NVIDIA driver. */
export function gpuDeviceRequest(gpus: GpuRequest): { Driver: string; Count?: number; DeviceIDs?: string[]; Capabilities: string[][] } {
  return { Driver: 'nvidia', ...('deviceIds' in gpus ? { DeviceIDs: gpus.deviceIds } : { Count: gpus.count }), Capabilities: [['gpu']] };
}

/** `imageRef` is `repo@sha256:…`: what runs is exactly what was pulled. */
export type NewContainer = ProvenanceLabelsOf;

/**
 * The create options of a new app container. Env values go into the container's config
 * (the Engine API, over SSH); they never go into labels, names or logs.
 */
export function appContainerSpec(settings: DeploySettings, next: NewContainer): ContainerCreateOptions {
  const labels: Record<string, string> = { ...Object.fromEntries(settings.labels), ...appLabels(settings.app), ...provenanceLabels(next) };
  const port = settings.containerPort === undefined ? undefined : `${settings.containerPort}/tcp`;
  const binds = settings.volumes.map((v) => `${v.source}:${v.target}:${v.readOnly ? 'ro' : 'rw'}`);
  return {
    name: containerName(settings.app, next.digest, next.provenance.at),
    Image: next.imageRef,
    Env: [...new Map([...settings.env, ...settings.webEnv])].map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    ...(settings.command ? { Cmd: settings.command } : {}),
    ...(port ? { ExposedPorts: { [port]: {} } } : {}),
    HostConfig: {
      RestartPolicy: { Name: settings.restartPolicy, ...(settings.restartPolicy === 'on-failure' ? { MaximumRetryCount: 5 } : {}) },
      ...(binds.length > 0 ? { Binds: binds } : {}),
      // blue-green: the proxy holds the public port; app containers publish nothing.
      ...(port && settings.publish && !blueGreenOf(settings) ? { PortBindings: { [port]: [{ HostIp: settings.publish.hostIp ?? '', HostPort: String(settings.publish.hostPort) }] } } : {}),
      ...(settings.network ? { NetworkMode: settings.network } : {}),
      ...(settings.gpus ? { DeviceRequests: [gpuDeviceRequest(settings.gpus)] } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
    ...(settings.network ? { NetworkingConfig: { EndpointsConfig: { [settings.network]: { Aliases: [settings.app] } } } } : {}),
  };
}
