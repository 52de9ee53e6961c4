export { createGitHubClient, describeApiError, type GitHubClient } from './client.ts';
