// The front of a Swarm service (target: swarm with publish): the managed nginx container
// `<app>-proxy` on the manager, on the service's attachable overlay network, holding `publish` and
// forwarding to every healthy task by Docker's DNS (the service's alias <app>.gangway.invalid).
// Its config never changes between deploys (proxy-config.ts swarmProxyConfig): Swarm puts a task
// into that name once it is healthy and takes it out before it stops it, so a rolling update
// moves the traffic with no step of Gangway's. The proxy is made on the first deploy and again
// only when its image, port, network or config changed.
import { createHash } from 'node:crypto';
import { LABEL } from '../labels.ts';
import type { HostContext } from '../host/context.ts';
import { currentProxy, proxyImageId, startNewProxy } from '../container/proxy.ts';
import { proxySpecHash, swarmProxyConfig, swarmTasksName, type ProxyDesign } from '../container/proxy-config.ts';
import { proxyName } from '../container/spec.ts';

export interface SwarmFront {
  how: 'kept' | 'created' | 'replaced';
  name: string;
}

/** The Swarm service's proxy, running as this deploy wants it: kept when it is, else made (again). */
export async function ensureSwarmProxy(ctx: HostContext): Promise<SwarmFront> {
  const s = ctx.settings;
  const name = proxyName(s.app);
  if (s.target.kind !== 'swarm' || !s.target.proxy || !s.publish || !s.network || s.containerPort === undefined) {
    throw new Error('the Swarm proxy needs target: swarm with publish, container-port and the app network');
  }
  const image = await proxyImageId(ctx, s.target.proxy.image);
  const config = swarmProxyConfig(s.app, s.containerPort);
  const design: ProxyDesign = {
    imageId: image.id,
    imageRef: image.ref,
    network: s.network,
    hostIp: s.publish.hostIp ?? '',
    hostPort: s.publish.hostPort,
    configHash: createHash('sha256').update(config).digest('hex').slice(0, 16),
  };
  const current = await currentProxy(ctx.engine, s.app);
  if (current.details?.running && current.details.labels[LABEL.proxySpec] === proxySpecHash(design)) return { how: 'kept', name };
  const why = !current.details ? 'no proxy yet' : !current.details.running ? `${current.details.name} is ${current.details.state}` : 'its image, port, network or config changed';
  ctx.log.info(`creating the proxy ${name} (${image.ref}) on ${design.hostIp || '*'}:${design.hostPort} → ${swarmTasksName(s.app)}:${s.containerPort} on ${s.network}: ${why}`);
  await startNewProxy(ctx, design, config, current.details);
  return { how: current.details ? 'replaced' : 'created', name };
}
