// A Docker Swarm of lab targets, for the tests and benchmarks of target: swarm (one node or several): the first
// target is the manager, the others join it as workers, all over the lab LAN (198.18.100.0/24:
// the targets' veths are firewalled from each other, the LAN is not). Overlay networks take their
// subnets from 198.18.8.0/21, a gap no other part of the lab uses (plan.ts), not Docker's default
// 10.0.0.0/8. The cluster is the caller's: leave() takes every node out and removes what Swarm
// left behind (docker_gwbridge), so the targets are plain engines again for the next test.
//
// Through each target's engine socket on this machine, not through SSH: the cluster is the test's
// setting, not what it tests. Every node is named `vm` (the targets share a hostname): tell them
// apart by node ID.
import Docker from 'dockerode';
import { waitFor } from '../exec.ts';
import type { TargetState } from '../state.ts';

/** Where Swarm takes the subnets of overlay networks from (`--default-addr-pool`), /24 each. */
export const LAB_SWARM_ADDRESS_POOL = '198.18.8.0/21';
const SWARM_PORT = 2377;

export interface SwarmNode {
  target: TargetState;
  nodeId: string;
  docker: Docker;
}

export interface LabSwarm {
  manager: SwarmNode;
  workers: SwarmNode[];
  /** The manager's view: node ID → `ready`/`down`/`unknown`. */
  nodeStates(): Promise<Map<string, string>>;
  /** Takes every node out of the swarm (workers first) and removes docker_gwbridge on each; never throws. */
  leave(): Promise<string[]>;
}

interface SwarmInfo {
  Swarm?: { LocalNodeState?: string; NodeID?: string };
}

async function swarmState(docker: Docker): Promise<{ state: string; nodeId: string }> {
  const info = (await docker.info()) as SwarmInfo;
  return { state: info.Swarm?.LocalNodeState ?? 'inactive', nodeId: info.Swarm?.NodeID ?? '' };
}

/** Takes one engine out of its swarm (if it is in one) and removes the bridge Swarm leaves; the problems, as lines. */
async function leaveOne(docker: Docker, name: string): Promise<string[]> {
  const problems: string[] = [];
  try {
    if ((await swarmState(docker)).state !== 'inactive') await docker.swarmLeave({ force: true });
  } catch (error) {
    problems.push(`${name}: swarm leave: ${String(error)}`);
  }
  try {
    await docker.getNetwork('docker_gwbridge').remove();
  } catch (error) {
    if (!/no such network|not found/i.test(String(error))) problems.push(`${name}: docker_gwbridge: ${String(error)}`);
  }
  return problems;
}

/**
 * Makes the swarm: `targets[0]` inits it (a manager), the rest (if any) join as workers. Every target must
 * be outside any swarm (one that is in one belongs to someone else: this refuses). Returns when
 * the manager sees every node ready.
 */
export async function formLabSwarm(targets: TargetState[]): Promise<LabSwarm> {
  if (targets.length === 0) throw new Error('a lab swarm needs at least one target');
  const nodes = targets.map((target) => ({ target, docker: new Docker({ socketPath: target.dockerSocket }) }));
  for (const n of nodes) {
    const { state } = await swarmState(n.docker);
    if (state !== 'inactive') throw new Error(`${n.target.name} is already in a swarm (${state}): not this test's to touch`);
  }
  const joined: typeof nodes = [];
  const leave = async (): Promise<string[]> => {
    const problems: string[] = [];
    // Workers first: a manager that leaves first strands them.
    for (const n of [...joined].reverse()) problems.push(...(await leaveOne(n.docker, n.target.name)));
    joined.length = 0;
    return problems;
  };
  const [manager, ...workers] = nodes as [(typeof nodes)[number], ...typeof nodes];
  try {
    joined.push(manager);
    await manager.docker.swarmInit({
      ListenAddr: `${manager.target.lanAddress}:${SWARM_PORT}`,
      AdvertiseAddr: manager.target.lanAddress,
      DefaultAddrPool: [LAB_SWARM_ADDRESS_POOL],
      SubnetSize: 24,
    });
    const swarm = (await manager.docker.swarmInspect()) as { JoinTokens: { Worker: string } };
    for (const w of workers) {
      joined.push(w);
      await w.docker.swarmJoin({
        ListenAddr: `${w.target.lanAddress}:${SWARM_PORT}`,
        AdvertiseAddr: w.target.lanAddress,
        RemoteAddrs: [`${manager.target.lanAddress}:${SWARM_PORT}`],
        JoinToken: swarm.JoinTokens.Worker,
      });
    }
    const ids = await Promise.all(nodes.map(async (n) => ({ ...n, nodeId: (await swarmState(n.docker)).nodeId })));
    const nodeStates = async (): Promise<Map<string, string>> => {
      const list = (await manager.docker.listNodes()) as Array<{ ID: string; Status?: { State?: string } }>;
      return new Map(list.map((n) => [n.ID, n.Status?.State ?? 'unknown']));
    };
    await waitFor(`the ${nodes.length} swarm nodes to be ready`, 30_000, async () => {
      const states = await nodeStates();
      return ids.every((n) => states.get(n.nodeId) === 'ready') ? true : undefined;
    });
    const [m, ...ws] = ids as [SwarmNode, ...SwarmNode[]];
    return { manager: m, workers: ws, nodeStates, leave };
  } catch (error) {
    await leave();
    throw error;
  }
}

/**
 * What a test or benchmark left of an app on the swarm, before it leaves: the Swarm service (its
 * tasks' containers gone from every node), the app's other containers (`gangway.app`: its proxy,
 * its lock marker), its overlay network `<app>-net`, and on the workers the images whose repository
 * starts with one of `images` (registry/repository: the workers pulled them for the tasks; the
 * third target's small disk is the chaos suite's too). Never throws.
 */
export async function removeSwarmApp(swarm: LabSwarm, app: string, images: string[] = []): Promise<void> {
  await swarm.manager.docker.getService(app).remove().catch(() => undefined);
  const nodes = [swarm.manager, ...swarm.workers];
  for (const node of nodes) {
    for (let i = 0; i < 80; i++) {
      const tasks = await node.docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${app}`] } }).catch(() => []);
      if (tasks.length === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    for (const c of await node.docker.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => [])) {
      await node.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
  }
  await swarm.manager.docker.getNetwork(`${app}-net`).remove().catch(() => undefined);
  for (const node of swarm.workers) {
    for (const image of await node.docker.listImages().catch(() => [])) {
      if ((image.RepoDigests ?? []).some((d) => images.some((prefix) => d.startsWith(`${prefix}@`)))) await node.docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
  }
}

