// The few Swarm calls of `target: swarm`, behind one small interface (dockerode over SSH in the
// action; a fake in unit tests).
import type Docker from 'dockerode';
import { isEngineNotFound } from '@gangway/kit';
import { createNetworkOnce } from '../host/engine.ts';

/** The parts of a Swarm ServiceSpec Gangway writes (the Engine keeps the rest as given). */
export interface SwarmServiceSpec {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Labels: Record<string, string>;
      Env: string[];
      Command?: string[];
      Args?: string[];
      Mounts?: Array<{ Type: 'volume' | 'bind'; Source: string; Target: string; ReadOnly: boolean }>;
      StopGracePeriod: number;
      Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
    };
    RestartPolicy: { Condition: 'none' | 'on-failure' | 'any'; MaxAttempts?: number };
    Networks?: Array<{ Target: string; Aliases: string[] }>;
    /** Spread over node.id: the tasks go to as many nodes as there are, evenly. */
    Placement?: { Preferences: Array<{ Spread: { SpreadDescriptor: string } }> };
    ForceUpdate?: number;
  };
  Mode: { Replicated: { Replicas: number } };
  UpdateConfig: { Parallelism: number; Delay?: number; Order: 'start-first' | 'stop-first'; FailureAction: 'rollback' | 'pause'; Monitor: number; MaxFailureRatio: number };
  RollbackConfig: { Parallelism: number; Order: 'start-first' | 'stop-first'; FailureAction: 'pause' | 'continue'; Monitor: number; MaxFailureRatio: number };
  EndpointSpec: { Mode: 'dnsrr' | 'vip'; Ports?: Array<{ Protocol: 'tcp'; TargetPort: number; PublishedPort: number; PublishMode: 'host' | 'ingress' }> };
}

/** updating, paused, completed, rollback_started, rollback_paused, rollback_completed. */
export interface SwarmUpdateStatus {
  state: string;
  startedAt?: string;
  message?: string;
}

export interface SwarmService {
  id: string;
  version: number;
  spec: SwarmServiceSpec;
  previousSpec?: SwarmServiceSpec;
  updateStatus?: SwarmUpdateStatus;
}

export interface SwarmTask {
  id: string;
  /** new, pending, assigned, …, starting, running, complete, failed, rejected, shutdown. */
  state: string;
  desiredState: string;
  image: string;
  /** The task's container labels (gangway.deployed-at tells one deploy's tasks from another's). */
  labels: Record<string, string>;
  /** Status.Err, else Status.Message. */
  message: string;
  containerId?: string;
  /** The node Swarm placed it on (none before it is assigned). */
  nodeId?: string;
}

export interface SwarmEngine {
  /** The engine's Swarm role: `manager` only when it is an active manager that can create services. */
  role(): Promise<{ manager: boolean; state: string }>;
  inspectService(name: string): Promise<SwarmService | undefined>;
  /**
   * The new service's id. `registryAuth` (an X-Registry-Auth value) goes to Swarm with the spec, so
   * that every node can pull the image (`docker service create --with-registry-auth`).
   */
  createService(spec: SwarmServiceSpec, registryAuth?: string): Promise<string>;
  /** `rollback`: Swarm's own `rollback=previous` (the spec is the current one, unchanged). Returns the Engine's warnings. */
  updateService(id: string, version: number, spec: SwarmServiceSpec, options?: { rollback?: boolean; registryAuth?: string }): Promise<string[]>;
  listTasks(serviceId: string): Promise<SwarmTask[]>;
  /** The IDs of the swarm's nodes that are not ready (down, disconnected, unknown). */
  downNodes(): Promise<Set<string>>;
  /** The network of that name, if there is one: its driver, scope (local, swarm) and whether containers may attach. */
  network(name: string): Promise<{ driver: string; scope: string; attachable: boolean } | undefined>;
  /** An attachable overlay network (what a service can join). */
  createOverlayNetwork(name: string, labels: Record<string, string>): Promise<void>;
}

interface RawService {
  ID: string;
  Version: { Index: number };
  Spec: SwarmServiceSpec;
  PreviousSpec?: SwarmServiceSpec;
  UpdateStatus?: { State?: string; StartedAt?: string; Message?: string };
}

interface RawTask {
  ID: string;
  NodeID?: string;
  DesiredState: string;
  Spec: { ContainerSpec?: { Image?: string; Labels?: Record<string, string> } };
  Status: { State: string; Message?: string; Err?: string; ContainerStatus?: { ContainerID?: string } };
}

export function dockerSwarmEngine(docker: Docker): SwarmEngine {
  return {
    async role() {
      const info = (await docker.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
      const state = info.Swarm?.LocalNodeState ?? 'inactive';
      return { manager: state === 'active' && info.Swarm?.ControlAvailable === true, state };
    },
    async inspectService(name) {
      let raw: RawService;
      try {
        raw = (await docker.getService(name).inspect()) as RawService;
      } catch (error) {
        if (isEngineNotFound(error)) return undefined;
        throw error;
      }
      const u = raw.UpdateStatus;
      return {
        id: raw.ID,
        version: raw.Version.Index,
        spec: raw.Spec,
        ...(raw.PreviousSpec ? { previousSpec: raw.PreviousSpec } : {}),
        ...(u?.State ? { updateStatus: { state: u.State, ...(u.StartedAt ? { startedAt: u.StartedAt } : {}), ...(u.Message ? { message: u.Message } : {}) } } : {}),
      };
    },
    async createService(spec, registryAuth) {
      const body = spec as unknown as Docker.CreateServiceOptions;
      const created = (await (registryAuth ? docker.createService({ key: registryAuth }, body) : docker.createService(body))) as unknown as { id?: string; ID?: string };
      return created.id ?? created.ID ?? '';
    },
    async updateService(id, version, spec, options = {}) {
      // `_query` is what goes into the query string; the rest is the body (the spec).
      const body = { ...spec, _query: { version, ...(options.rollback ? { rollback: 'previous' } : {}) } };
      // dockerode takes the login from `authconfig` (sent as X-Registry-Auth, never in the body or the URL).
      const withAuth = options.registryAuth ? { ...body, authconfig: { key: options.registryAuth } } : body;
      const result = (await docker.getService(id).update(withAuth)) as { Warnings?: string[] | null } | undefined;
      return result?.Warnings ?? [];
    },
    async listTasks(serviceId) {
      const raw = (await docker.listTasks({ filters: { service: [serviceId] } })) as RawTask[];
      return raw.map((t) => ({
        id: t.ID,
        state: t.Status.State,
        desiredState: t.DesiredState,
        image: t.Spec.ContainerSpec?.Image ?? '',
        labels: t.Spec.ContainerSpec?.Labels ?? {},
        message: t.Status.Err ?? t.Status.Message ?? '',
        ...(t.Status.ContainerStatus?.ContainerID ? { containerId: t.Status.ContainerStatus.ContainerID } : {}),
        ...(t.NodeID ? { nodeId: t.NodeID } : {}),
      }));
    },
    async downNodes() {
      const nodes = (await docker.listNodes()) as Array<{ ID: string; Status?: { State?: string } }>;
      return new Set(nodes.filter((n) => n.Status?.State !== 'ready').map((n) => n.ID));
    },
    async network(name) {
      try {
        const n = (await docker.getNetwork(name).inspect()) as { Driver?: string; Scope?: string; Attachable?: boolean };
        return { driver: n.Driver ?? '', scope: n.Scope ?? '', attachable: n.Attachable === true };
      } catch (error) {
        if (isEngineNotFound(error)) return undefined;
        throw error;
      }
    },
    createOverlayNetwork: (name, labels) => createNetworkOnce(docker, { Name: name, Driver: 'overlay', Attachable: true, Labels: labels }),
  };
}
