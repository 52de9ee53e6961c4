// Every input, read once and validated before anything connects: a hostile or mistaken input
// stops here with a ConfigurationError that names the input and the fix. The readers by concern:
// ssh.ts (how each server is reached), container.ts (what runs), rollout.ts (how it replaces the
// old version, and the lock), github.ts (deployment records).
import { ConfigurationError, Inputs, parseHostPort, parseImageReference, registerSecret, type HostPort, type ImageReference } from '@gangway/kit';
import type { DeploymentSettings } from '../github-deployment.ts';
import { readContainer, type ContainerSettings } from './container.ts';
import { readEdge, type EdgeSettings } from './edge.ts';
import { readGitHubDeployment } from './github.ts';
import { parseAccessories, parseRoles, parseUpgrades, type AccessorySettings, type RoleSettings } from './roles.ts';
import { checkLockTtl, readRollout, type RolloutSettings } from './rollout.ts';
import { hostLabel, readSsh, type SshSettings } from './ssh.ts';

export type { ContainerSettings, Publish, Readiness, RestartPolicy, VolumeMount } from './container.ts';
export type { EdgeSettings, EdgeTls } from './edge.ts';
export type { BlueGreenSettings, OnFailure, RolloutSettings, StrategyName, StrategySettings, TargetSettings } from './rollout.ts';
export type { JumpHost, Login, SshSettings } from './ssh.ts';
export type { AccessorySettings, RoleReadiness, RoleSettings } from './roles.ts';

export interface DeploySettings extends SshSettings, ContainerSettings, RolloutSettings {
  /** Go back to the previous version instead of deploying `image`. */
  rollback: boolean;
  /** Record a GitHub deployment (only with `environment`). */
  github?: DeploymentSettings;
  /** The commit being deployed, when given (else GITHUB_SHA). */
  sha?: string;
  /** The app's place on the host's shared edge (`hostname` given); undefined: its own port, or none. */
  edge?: EdgeSettings;
  /** The shared edge's image (Caddy 2). */
  edgeImage: ImageReference;
  /** `maintenance` given with no `image`: only the edge's maintenance page is switched; no container changes. */
  maintenanceOnly: boolean;
  /** `audit: true` (with no image): the run prints the app's audit log on each host; nothing changes. */
  auditOnly: boolean;
  /** Worker roles beside the web container (the app itself): same image, own command, env and replicas. */
  roles: RoleSettings[];
  /** Set by the rollout for the servers only a role names: the release (and its image) the web's servers went back to. */
  rollbackTo?: { release: string; image: string };
  /** The servers of the web (`host`, as labels); `hosts` adds the ones only a role names. */
  webHosts: string[];
  /** The web container's own plain env (`roles: web: { env: [...] }`), on top of `env`. */
  webEnv: Map<string, string>;
  /** Long-lived services of the app (Redis, Postgres): created when missing, never restarted by a deploy. */
  accessories: AccessorySettings[];
  /** Accessories this run moves to their declared image (`upgrade-accessories`). */
  upgradeAccessories: string[];
  /** `upgrade-accessories` given with no image: only those accessories change. */
  accessoryOnly: boolean;
}

/**
 * Reads and validates every input. Secrets (keys, passphrases, passwords, env values) are
 * registered with the runner's masker first, before anything can print them.
 */
export function readSettings(inputs: Inputs = new Inputs()): DeploySettings {
  const githubToken = inputs.secret('github-token');
  const ssh = { privateKey: inputs.secret('private-key'), passphrase: inputs.secret('passphrase'), password: inputs.secret('password'), jumpPrivateKey: inputs.secret('jump-private-key') };
  const registryPassword = inputs.secret('registry-password');
  const tlsKey = inputs.secret('tls-key');
  const env = inputs.keyValues('env');
  for (const value of env.values()) registerSecret(value);
  const accessories = parseAccessories(inputs.raw('accessories'), registerSecret);

  const rollback = inputs.boolean('rollback', false);
  // Roles first: the servers only a role names are servers of the run too (docker-socket may name them).
  const sshPort = inputs.port('port') ?? 22;
  const { roles, webEnv } = parseRoles(inputs.raw('roles'), 'roles', (h) => hostLabel(parseHostPort(h, 'roles', sshPort)));
  const reach = readSsh(inputs, ssh, roles.flatMap((r) => r.hosts ?? []).map((label) => parseHostPort(label, 'roles', sshPort)));
  const edge = readEdge(inputs, tlsKey);
  // An ops switch from workflow_dispatch: the maintenance page on or off, nothing deployed.
  const maintenanceOnly = edge?.maintenance !== undefined && !rollback && inputs.string('image') === undefined;
  // The audit log alone: a read, nothing deployed (every deploy shows its last entries anyway).
  const auditOnly = inputs.boolean('audit', false);
  if (auditOnly && (rollback || maintenanceOnly || inputs.string('image') !== undefined)) {
    throw new ConfigurationError('Input "audit" is true, which prints the audit log and changes nothing; it cannot go with image, rollback or maintenance. Every deploy shows the last entries in its summary anyway: remove audit, or the others.', 'audit');
  }
  const upgradeAccessories = parseUpgrades(inputs.list('upgrade-accessories'), accessories);
  // An accessory upgrade alone: the app's containers stay as they are.
  const accessoryOnly = upgradeAccessories.length > 0 && !rollback && inputs.string('image') === undefined;
  if (accessoryOnly && maintenanceOnly) {
    throw new ConfigurationError('Inputs "upgrade-accessories" and "maintenance" are both set with no image: switch the maintenance page in one run and upgrade the accessory in another.', 'upgrade-accessories');
  }
  if (upgradeAccessories.length > 0 && (rollback || auditOnly)) {
    throw new ConfigurationError('Input "upgrade-accessories" cannot go with rollback or audit: an accessory is upgraded by a run of its own, or together with a deploy of an image.', 'upgrade-accessories');
  }
  // The rollout covers the web's servers (host, the canary first) and then any server only a role names.
  const webHosts = reach.hosts.map(hostLabel);
  const roleOnly: HostPort[] = [];
  for (const label of roles.flatMap((r) => r.hosts ?? [])) {
    if (webHosts.includes(label) || roleOnly.some((h) => hostLabel(h) === label)) continue;
    roleOnly.push(parseHostPort(label, 'roles', sshPort));
  }

  const container = readContainer(inputs, { env, registryPassword }, rollback || maintenanceOnly || auditOnly || accessoryOnly);
  const httpRole = roles.find((r) => r.readiness.kind === 'http');
  if (httpRole && container.containerPort === undefined) {
    throw new ConfigurationError(`Input "roles": role ${httpRole.name} has an HTTP readiness path, probed on "container-port", which is not set. Set container-port, or give the role readiness: docker or none.`, 'roles');
  }
  if (edge && container.publish) {
    throw new ConfigurationError('Inputs "hostname" and "publish" are both set: with hostname the app is served by the host\'s shared edge (ports 80/443); publish gives it a port of its own. Choose one.', 'publish');
  }
  if (edge && container.containerPort === undefined) {
    throw new ConfigurationError('Input "hostname" needs "container-port": the port the app listens on inside its container, where the edge sends its requests.', 'container-port');
  }
  const edgeImageParsed = parseImageReference(inputs.string('edge-image') ?? 'caddy:2', 'edge-image');
  const edgeImage = edgeImageParsed.digest || edgeImageParsed.tag ? edgeImageParsed : { ...edgeImageParsed, tag: 'latest' };
  const rollout = readRollout(inputs, { published: container.publish !== undefined, edge: edge !== undefined, hosts: reach.hosts.length + roleOnly.length, hooks: { preDeploy: container.preDeploy.length, postDeploy: container.postDeploy.length } });
  if ((roles.length > 0 || webEnv.size > 0 || accessories.length > 0) && rollout.target.kind === 'swarm') {
    throw new ConfigurationError(`Input "${accessories.length > 0 ? 'accessories' : 'roles'}" works with target: container. With target: swarm, run workers and datastores as services of their own. Remove it, or use target: container.`, accessories.length > 0 ? 'accessories' : 'roles');
  }
  if (container.gpus && rollout.target.kind === 'swarm') {
    throw new ConfigurationError('Input "gpus" works with target: container (the engine\'s device requests); a Swarm service asks for GPUs as generic resources of its nodes, which Gangway does not set yet. Remove gpus, or use target: container.', 'gpus');
  }
  // The app containers of a blue-green deploy sit on a private network; the proxy reaches them there by name.
  // Roles and accessories meet on the app's network too: they reach each other by name there.
  // A Swarm service behind its proxy sits on an attachable overlay of that name; the proxy reaches its tasks there.
  const ownNetwork = rollout.target.kind === 'container' ? rollout.target.strategy.name === 'blue-green' || roles.length > 0 || accessories.length > 0 : rollout.target.proxy !== undefined;
  const network = container.network ?? (ownNetwork ? `${container.app}-net` : undefined);
  const github = readGitHubDeployment(inputs, githubToken);
  const sha = inputs.string('sha');
  if (sha !== undefined && !/^[0-9a-f]{7,64}$/i.test(sha)) {
    throw new ConfigurationError(`Input "sha" is "${sha}", which is not a commit sha. Give the full hex sha (e.g. github.sha).`, 'sha');
  }

  const settings: DeploySettings = {
    ...reach,
    hosts: [...reach.hosts, ...roleOnly],
    webHosts,
    ...container,
    ...(network ? { network } : {}),
    ...rollout,
    rollback,
    ...(github ? { github } : {}),
    ...(sha ? { sha } : {}),
    ...(edge ? { edge } : {}),
    edgeImage,
    maintenanceOnly,
    auditOnly,
    roles,
    webEnv,
    accessories,
    upgradeAccessories,
    accessoryOnly,
  };
  checkLockTtl(settings, inputs.raw('lock-ttl'));
  return settings;
}
