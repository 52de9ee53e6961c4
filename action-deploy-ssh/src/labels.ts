// What Gangway writes on everything it creates, and who deployed it: the labels by which a
// deploy finds its app's containers, services and lock, and the provenance they record.
import { readRunContext } from '@gangway/kit';
/** Gangway's labels. Only containers carrying `gangway.app=<app>` are ever touched by a deploy of that app. */
export const LABEL = {
  managed: 'gangway.managed',
  role: 'gangway.role',
  app: 'gangway.app',
  image: 'gangway.image',
  digest: 'gangway.digest',
  gitSha: 'gangway.git-sha',
  runUrl: 'gangway.run-url',
  actor: 'gangway.actor',
  deployedAt: 'gangway.deployed-at',
  /** The image of the container this one replaced: what `rollback` re-creates when that container is gone. */
  previousImage: 'gangway.previous-image',
  previousDeployedAt: 'gangway.previous-deployed-at',
  /** blue-green proxy: a hash of what its container was created from (image, port, listen address). */
  proxySpec: 'gangway.proxy-spec',
  /** A worker container: its role's name, the release it belongs to (the name of that release's web container) and its replica number. */
  workerRole: 'gangway.worker-role',
  release: 'gangway.release',
  replica: 'gangway.replica',
  /** On a web container: the worker roles of its release on this server, comma separated ('' when none). */
  roles: 'gangway.roles',
  /** An accessory container: its name in the accessories input. */
  accessory: 'gangway.accessory',
  lockToken: 'gangway.lock.token',
  lockAcquiredAt: 'gangway.lock.acquired-at',
} as const;

/** Who deploys: from the runner's environment, the same for every host. */
export interface Provenance {
  gitSha: string;
  runUrl: string;
  actor: string;
  /** ISO time the run started deploying. */
  at: string;
}

export function provenanceFromEnv(env: NodeJS.ProcessEnv = process.env, now = new Date()): Provenance {
  const run = readRunContext(env);
  return { gitSha: run.sha || 'unknown', runUrl: run.runUrl ?? 'local', actor: run.actor || 'unknown', at: now.toISOString() };
}

export interface ProvenanceLabelsOf {
  imageRef: string;
  digest: string;
  provenance: Provenance;
  /** The version this one replaces: what `rollback` goes back to. */
  previous?: { image: string; deployedAt: string } | undefined;
}

/** The labels that say what runs and who put it there, on a container (container target) or a service (swarm). */
export function provenanceLabels(next: ProvenanceLabelsOf): Record<string, string> {
  const p = next.provenance;
  return {
    [LABEL.image]: next.imageRef,
    [LABEL.digest]: next.digest,
    [LABEL.gitSha]: p.gitSha,
    [LABEL.runUrl]: p.runUrl,
    [LABEL.actor]: p.actor,
    [LABEL.deployedAt]: p.at,
    ...(next.previous ? { [LABEL.previousImage]: next.previous.image, [LABEL.previousDeployedAt]: next.previous.deployedAt } : {}),
  };
}
