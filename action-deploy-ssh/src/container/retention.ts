// Retention: keep the newest `keep` containers of this app (the running one included; the
// others stay stopped for rollback) with the workers of their releases, remove older ones and
// then their images when nothing uses them any more. Only containers labelled with this app are
// ever considered; accessories and every volume are never touched.
import { errorMessage } from '@gangway/kit';
import { appLabels, workerLabels } from './spec.ts';
import { LABEL } from '../labels.ts';
import type { ContainerSummary, DeployEngine } from '../host/engine.ts';

export interface RetentionResult {
  removedContainers: string[];
  removedImages: string[];
  kept: string[];
}

/** Newest first, by deploy time (label), then by creation. */
export function byDeployTime(a: ContainerSummary, b: ContainerSummary): number {
  const ta = Date.parse(a.labels[LABEL.deployedAt] ?? '') || a.created * 1000;
  const tb = Date.parse(b.labels[LABEL.deployedAt] ?? '') || b.created * 1000;
  return tb - ta || b.created - a.created;
}

export async function applyRetention(
  engine: DeployEngine,
  app: string,
  keep: number,
  options: { protect: string[]; log: (line: string) => void; warn: (line: string) => void },
): Promise<RetentionResult> {
  const all = (await engine.listContainers(appLabels(app))).filter((c) => c.labels[LABEL.app] === app && c.labels[LABEL.role] === 'app');
  const sorted = [...all].sort(byDeployTime);
  const kept: ContainerSummary[] = [];
  const remove: ContainerSummary[] = [];
  for (const c of sorted) {
    // Running containers and the ones this run must keep are never removed here.
    if (options.protect.includes(c.id) || c.state === 'running' || kept.length < keep) kept.push(c);
    else remove.push(c);
  }
  // Workers go with their release: kept while its web container is kept (or while they run).
  const workers = (await engine.listContainers(workerLabels(app))).filter((c) => c.labels[LABEL.app] === app && c.labels[LABEL.role] === 'worker');
  // On a server that runs only workers there is no web container: the newest `keep` releases of workers stay.
  const newestReleases = [...new Set([...workers].sort(byDeployTime).map((c) => c.labels[LABEL.release] ?? ''))].slice(0, keep);
  const releases = new Set([...kept.map((c) => c.name), ...newestReleases]);
  for (const w of workers) {
    if (w.state === 'running' || options.protect.includes(w.id) || releases.has(w.labels[LABEL.release] ?? '')) kept.push(w);
    else remove.push(w);
  }
  const result: RetentionResult = { removedContainers: [], removedImages: [], kept: kept.filter((c) => c.labels[LABEL.role] === 'app').map((c) => c.name) };
  // One-off hook containers left behind by a run that was killed mid-hook.
  const leftovers = (await engine.listContainers({ [LABEL.managed]: 'true', [LABEL.app]: app, [LABEL.role]: 'hook' })).filter((c) => c.state !== 'running');
  for (const c of leftovers) {
    await engine.removeContainer(c.id, { force: true, anonymousVolumes: true }).catch((error: unknown) => options.warn(`Could not remove the leftover hook container ${c.name}: ${errorMessage(error)}`));
  }
  for (const c of remove) {
    try {
      // A worker's unnamed volumes (its image's VOLUMEs) go with it; a web container's stay, as docker rm leaves them.
      await engine.removeContainer(c.id, { anonymousVolumes: c.labels[LABEL.role] === 'worker' });
      result.removedContainers.push(c.name);
      options.log(`removed ${c.name} (${c.labels[LABEL.image] ?? c.image})`);
    } catch (error) {
      options.warn(`Could not remove old container ${c.name}: ${errorMessage(error)}`);
    }
  }
  const keptImages = new Set(kept.map((c) => c.imageId));
  const byImage = new Map<string, string>();
  for (const c of remove) if (!keptImages.has(c.imageId)) byImage.set(c.imageId, c.labels[LABEL.image] ?? c.imageId);
  for (const [imageId, reference] of byImage) {
    try {
      // By the reference Gangway pulled (repo@digest): other names of the image, if any, stay.
      const outcome = await engine.removeImage(reference);
      if (outcome === 'removed') {
        result.removedImages.push(reference);
        options.log(`removed image ${reference} (${imageId.slice(0, 19)})`);
      }
    } catch (error) {
      options.warn(`Could not remove old image ${reference}: ${errorMessage(error)}`);
    }
  }
  return result;
}
