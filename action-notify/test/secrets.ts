// The inputs of this action that carry secrets, for the secret sweep of every test that runs
// it through the harness (@gangway/harness, secret-inputs.ts).
import type { SecretInputs } from '@gangway/harness';

export const secretInputs = {
  'github-token': 'whole',
  'smtp-url': 'url-password',
  'webhook-url': 'url-password',
} as const satisfies SecretInputs;
