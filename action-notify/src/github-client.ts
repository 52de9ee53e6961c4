import { createGitHubClient as create, type GitHubClient } from '@gangway/kit/github';

export { describeApiError, type GitHubClient } from '@gangway/kit/github';

export function createGitHubClient(token: string, apiUrl: string): GitHubClient {
  return create(token, apiUrl, 'gangway-action-notify');
}
