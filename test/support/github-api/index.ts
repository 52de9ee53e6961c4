/**
 * Test-only: a local GitHub REST API on 127.0.0.1 that checks every request against
 * GitHub's published OpenAPI description (@octokit/openapi) and answers with data built
 * from that description's examples and validated against its response schemas.
 *
 *   const github = await startGitHubApi({ repository: 'acme/shop', token });
 *   const octokit = getOctokit(token, { baseUrl: github.url });   // or GITHUB_API_URL=github.url
 *   …
 *   github.assertConforming();            // no request or response departed from the description
 *   github.calls('repos/create-deployment-status')   // the request log of one operation
 *   await github.close();
 */
export { GitHubApiServer, startGitHubApi, type LoggedRequest, type StartOptions, type WorkflowRunSeed, type JobSeed, type StepSeed } from './server.ts';
export { GitHubApiDescription, loadGitHubApiDescription, descriptionFile, type Operation, type MatchedRequest } from './description.ts';
