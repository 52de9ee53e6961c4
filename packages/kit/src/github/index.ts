export { createGitHubClient, describeApiError, ApiTimeout, API_TIMEOUT_MS, type GitHubClient } from './client.ts';
