export { createGitHubClient, describeApiError, ApiTimeout, API_TIMEOUT_MS, type GitHubClient } from './client.ts';
export { readRunContext, readEventPayload, type RunContext } from './run-context.ts';
