// GitHub deployment records: on with `environment`, which then needs a token and a URL that parses.
import { ConfigurationError, readRunContext, type Inputs } from '@gangway/kit';
import type { DeploymentSettings } from '../github-deployment.ts';
import { CONTROL } from './values.ts';

/** `environment` turns on GitHub deployment records; it then needs a token and a URL that parses. */
export function readGitHubDeployment(inputs: Inputs, token: string | undefined): DeploymentSettings | undefined {
  const environment = inputs.string('environment');
  const environmentUrl = inputs.string('environment-url');
  if (environment === undefined) {
    if (environmentUrl !== undefined) throw new ConfigurationError('Input "environment-url" is set but "environment" is not. Name the environment, or drop environment-url.', 'environment-url');
    return undefined;
  }
  if (environment.length > 255 || CONTROL.test(environment)) {
    throw new ConfigurationError('Input "environment" must be one line of at most 255 characters, e.g. "production".', 'environment');
  }
  if (environmentUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(environmentUrl)) {
    throw new ConfigurationError(`Input "environment-url" is "${environmentUrl}", which is not an http(s) URL.`, 'environment-url');
  }
  if (token === undefined) {
    throw new ConfigurationError('Input "github-token" is empty, and "environment" needs it to record the deployment. Leave github-token at its default (github.token) with permissions deployments: write.', 'github-token');
  }
  const apiUrl = inputs.string('api-url') ?? (readRunContext().apiUrl || 'https://api.github.com');
  return { environment, token, apiUrl, ...(environmentUrl ? { environmentUrl } : {}) };
}
