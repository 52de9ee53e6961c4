// The inputs of this action that carry secrets, for the secret sweep of every test that runs
// it through the harness (@gangway/harness, secret-inputs.ts). The header values and URL
// passwords inside `checks` are not declared here: the sweep finds them only as values the
// action masked (which its own tests check, test/action.test.ts).
import type { SecretInputs } from '@gangway/harness';

export const secretInputs = {
  url: 'url-password',
} as const satisfies SecretInputs;
