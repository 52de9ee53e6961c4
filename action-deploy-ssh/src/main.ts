// The main step: settings (all validated first), the GitHub deployment record (made while the
// rollout over every host (rollout.ts) connects), then the report published: outputs, job
// summary, the record closed.
import * as core from '@actions/core';
import { errorMessage, formatImageReference, Inputs, readRunContext } from '@gangway/kit';
import { GitHubDeployment } from './github-deployment.ts';
import { connectHost, type ConnectHost } from './host/connection.ts';
import { provenanceFromEnv } from './labels.ts';
import { publishReport, writeSummary } from './report.ts';
import { rollOut } from './rollout.ts';
import { readSettings } from './settings/index.ts';
import { hostLabel } from './settings/ssh.ts';

export interface MainDependencies {
  inputs?: Inputs;
  connect?: ConnectHost;
  env?: NodeJS.ProcessEnv;
}

export async function main(signal: AbortSignal, deps: MainDependencies = {}): Promise<void> {
  const settings = readSettings(deps.inputs ?? new Inputs());
  const connect = deps.connect ?? connectHost;
  if (settings.insecure) {
    core.warning(
      'insecure-skip-host-key-check is true: the server\'s identity is NOT verified, so anyone who can intercept the connection can impersonate the server and receive your deploy (and its env values). Pin known-hosts or fingerprint instead.',
    );
  }
  const env = deps.env ?? process.env;
  const provenance = { ...provenanceFromEnv(env), ...(settings.sha ? { gitSha: settings.sha } : {}) };
  // Reading the audit log deploys nothing: no GitHub deployment records it. The record is made
  // while the rollout connects (it never throws: a failure to record is a warning), and awaited
  // before it is closed, so GitHub still sees created → in progress → the result, in that order.
  const starting = settings.github && !settings.auditOnly
    ? GitHubDeployment.start(settings.github, {
        repository: readRunContext(env).repository,
        sha: provenance.gitSha,
        runUrl: provenance.runUrl,
        app: settings.app,
        ...(settings.image ? { image: formatImageReference(settings.image) } : {}),
        rollback: settings.rollback,
        hosts: settings.hosts.map(hostLabel),
      }).catch((error: unknown) => {
        core.warning(`No GitHub deployment recorded: ${errorMessage(error)}. The deploy goes on.`);
        return undefined;
      })
    : Promise.resolve(undefined);

  let result;
  try {
    result = await rollOut(settings, provenance, connect, signal);
  } catch (error) {
    // Anything unexpected still closes the GitHub deployment as failed.
    const deployment = await starting;
    await deployment?.finish({ state: 'failure', description: `failed: ${errorMessage(error)}` });
    throw error;
  }
  const { report, failure } = result;
  const deployment = await starting;
  publishReport(report);
  await writeSummary(report).catch((e: unknown) => core.warning(`Could not write the job summary: ${errorMessage(e)}`));
  await deployment?.finish(
    failure
      ? { state: 'failure', description: report.rolledBack ? `failed; previous version restored: ${failure.message}` : `failed: ${failure.message}` }
      : {
          state: 'success',
          description: settings.rollback
            ? `rolled back ${settings.app} to its previous version`
            : settings.maintenanceOnly
              ? `maintenance page ${settings.edge?.maintenance?.on ? 'on' : 'off'} for ${settings.app}`
              : `deployed ${settings.app}`,
        },
  );
  if (failure) throw failure;
  // Cancelled once every host had switched: the deploy stands (undoing it would be another
  // change nobody asked for), but a cancelled step does not report success.
  if (signal.aborted) {
    const why = signal.reason instanceof Error ? signal.reason.message : 'The job was cancelled.';
    throw new Error(`${why.replace(/\.$/, '')} after the switch: ${settings.app} runs ${settings.rollback ? 'the version rolled back to' : 'the new version'} on ${report.hosts.map((h) => h.host).join(', ')}; nothing was undone.`);
  }
}
