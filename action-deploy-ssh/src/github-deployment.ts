// GitHub Deployments: one deployment per run in `environment`, with statuses in_progress →
// success/failure carrying the run's log URL and the environment URL. A success makes the
// environment's earlier deployments inactive (auto_inactive), so a rollback shows as the
// active one. Talking to GitHub never decides the deploy: every API error is a warning.
import * as core from '@actions/core';
import { createGitHubClient, describeApiError, type GitHubClient } from '@gangway/kit/github';

export interface DeploymentSettings {
  environment: string;
  environmentUrl?: string;
  token: string;
  apiUrl: string;
}

export interface DeploymentContext {
  repository: string;
  sha: string;
  runUrl: string;
  app: string;
  image?: string;
  rollback: boolean;
  hosts: string[];
}

export type DeploymentOutcome = { state: 'success'; description: string } | { state: 'failure'; description: string };

export class GitHubDeployment {
  readonly id: number;
  readonly #client: GitHubClient;
  readonly #owner: string;
  readonly #repo: string;
  readonly #settings: DeploymentSettings;
  readonly #context: DeploymentContext;

  private constructor(id: number, client: GitHubClient, settings: DeploymentSettings, context: DeploymentContext) {
    this.id = id;
    this.#client = client;
    [this.#owner, this.#repo] = context.repository.split('/') as [string, string];
    this.#settings = settings;
    this.#context = context;
  }

  /** Creates the deployment and its in_progress status; undefined (with a warning) when GitHub says no. */
  static async start(settings: DeploymentSettings, context: DeploymentContext, client?: GitHubClient): Promise<GitHubDeployment | undefined> {
    const [owner, repo] = context.repository.split('/');
    if (!owner || !repo) {
      core.warning('No GitHub deployment recorded: GITHUB_REPOSITORY is not set.');
      return undefined;
    }
    const octokit = client ?? createGitHubClient(settings.token, settings.apiUrl, 'gangway-action-deploy-ssh');
    const what = context.rollback ? `rollback of ${context.app}` : `${context.app} ${context.image ?? ''}`.trim();
    try {
      const created = await octokit.rest.repos.createDeployment({
        owner,
        repo,
        ref: context.sha,
        environment: settings.environment,
        auto_merge: false,
        required_contexts: [],
        description: what.slice(0, 140),
        payload: { app: context.app, image: context.image ?? null, hosts: context.hosts, rollback: context.rollback },
      });
      if (!('id' in created.data)) {
        core.warning(`No GitHub deployment recorded: ${created.data.message ?? 'GitHub did not create it'}.`);
        return undefined;
      }
      const deployment = new GitHubDeployment(created.data.id, octokit, settings, context);
      await deployment.#status('in_progress', `deploying ${what}`.slice(0, 140));
      core.info(`GitHub deployment ${created.data.id} to ${settings.environment} started`);
      return deployment;
    } catch (error) {
      core.warning(`No GitHub deployment recorded (${settings.environment}): ${describeApiError(error)}. The deploy goes on.`);
      return undefined;
    }
  }

  async #status(state: 'in_progress' | 'success' | 'failure', description: string): Promise<void> {
    await this.#client.rest.repos.createDeploymentStatus({
      owner: this.#owner,
      repo: this.#repo,
      deployment_id: this.id,
      state,
      description: description.slice(0, 140),
      log_url: this.#context.runUrl,
      environment: this.#settings.environment,
      ...(this.#settings.environmentUrl && state !== 'in_progress' ? { environment_url: this.#settings.environmentUrl } : {}),
      ...(state === 'success' ? { auto_inactive: true } : {}),
    });
  }

  /** The final status; a warning, never an error, when GitHub does not take it. */
  async finish(outcome: DeploymentOutcome): Promise<void> {
    try {
      await this.#status(outcome.state, outcome.description);
      core.info(`GitHub deployment ${this.id}: ${outcome.state}`);
    } catch (error) {
      core.warning(`Could not set GitHub deployment ${this.id} to ${outcome.state}: ${describeApiError(error)}`);
    }
  }
}
