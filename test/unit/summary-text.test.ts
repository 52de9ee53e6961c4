import { describe, expect, it } from 'vitest';
import { summaryAsText } from '@gangway/workflow-runner';

describe('summaryAsText', () => {
  it('turns a job summary into lines a terminal shows', () => {
    const html = '<h2>Deployed &amp; verified</h2>\n<table><tr><th>What</th><th>Value</th></tr><tr><td>Digest</td><td><code>sha256:ab</code></td></tr></table>\n<ul><li>one</li><li>two &lt;ok&gt;</li></ul>';
    expect(summaryAsText(html)).toBe('Deployed & verified\n\nWhat │ Value │ \nDigest │ sha256:ab │ \n\n- one\n- two <ok>');
  });
});
