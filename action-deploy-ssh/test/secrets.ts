// The inputs of this action that carry secrets, for the secret sweep of every test that runs
// it through the harness (@gangway/harness, secret-inputs.ts).
import type { SecretInputs } from '@gangway/harness';

export const secretInputs = {
  'private-key': 'whole',
  passphrase: 'whole',
  password: 'whole',
  'jump-private-key': 'whole',
  'registry-password': 'whole',
  'github-token': 'whole',
  'tls-key': 'whole',
  // KEY=value lines; the values go into the container and nowhere else. Shorter values
  // (`warn`, `1`) turn up in any log.
  env: { keyValueLines: { minLength: 8 } },
} as const satisfies SecretInputs;
