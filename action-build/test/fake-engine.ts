import type { ProgressMessage, RegistryCredentials } from '@gangway/kit';
import type { BuildEngine, BuildRequest, EngineInfo, ImageFacts, RunResult } from '../src/engine.ts';

/** An engine that records calls and answers from a script: enough to drive main's order of work. */
export class FakeEngine implements BuildEngine {
  readonly where = 'unix:///fake/docker.sock';
  readonly calls: string[] = [];
  readonly builds: Array<Omit<BuildRequest, 'context'> & { contextBytes: number }> = [];
  info_: EngineInfo = { version: '20.10.24', apiVersion: '1.41', os: 'linux', arch: 'amd64', buildkit: true };
  authError: Error | undefined;
  /** Per target ('' = the image): messages the build streams. */
  buildScript = new Map<string, ProgressMessage[]>([['', [{ stream: 'Step 1/1 : FROM scratch\n' }, { aux: { ID: 'sha256:image' } }]]]);
  runResult: RunResult = { exitCode: 0, output: 'ok\n' };
  pushScript: (tag: string) => ProgressMessage[] = (tag) => [{ status: 'Pushed', id: 'layer1' }, { aux: { Tag: tag, Digest: 'sha256:digest', Size: 10 } }];

  async info(): Promise<EngineInfo> {
    this.calls.push('info');
    return this.info_;
  }
  async checkAuth(credentials: RegistryCredentials): Promise<void> {
    this.calls.push(`auth ${credentials.username}@${credentials.serveraddress}`);
    if (this.authError) throw this.authError;
  }
  async *build(request: BuildRequest): AsyncIterable<ProgressMessage> {
    let bytes = 0;
    for await (const chunk of request.context) bytes += (chunk as Buffer).length;
    const { context: _context, ...rest } = request;
    this.builds.push({ ...rest, contextBytes: bytes });
    this.calls.push(`build ${request.target ?? ''}`.trim());
    for (const m of this.buildScript.get(request.target ?? '') ?? []) yield m;
  }
  async inspectImage(ref: string): Promise<ImageFacts> {
    this.calls.push(`inspect ${ref}`);
    return { id: ref, sizeBytes: 1234, repoDigests: [], labels: {} };
  }
  async tagImage(id: string, repository: string, tag: string): Promise<void> {
    this.calls.push(`tag ${id} ${repository}:${tag}`);
  }
  async *push(repository: string, tag: string): AsyncIterable<ProgressMessage> {
    this.calls.push(`push ${repository}:${tag}`);
    for (const m of this.pushScript(tag)) yield m;
  }
  async *pull(reference: string): AsyncIterable<ProgressMessage> {
    this.calls.push(`pull ${reference}`);
    yield { error: 'not found' };
  }
  async run(image: string, command: string[]): Promise<RunResult> {
    this.calls.push(`run ${image} ${command.join(' ')}`);
    return this.runResult;
  }
}
