import * as core from '@actions/core';
import { Inputs, PhaseClock, errorMessage } from '@gangway/kit';
import { runBuild, type BuildOutcome } from './build.ts';
import { createBuildContext } from './context.ts';
import { DockerodeEngine, type BuildEngine, type BuildRequest } from './engine.ts';
import { pushTags, verifyCredentials, type PushOutcome } from './push.ts';
import { setOutputs, writeFailureSummary, writeSummary, type BuildReport } from './report.ts';
import { readEnvironment, readSettings, type BuildSettings } from './settings.ts';
import { runTestGate, type TestGateOutcome } from './test-gate.ts';

export interface MainDependencies {
  inputs?: Inputs;
  env?: NodeJS.ProcessEnv;
  engine?: (settings: BuildSettings) => BuildEngine;
  print?: (line: string) => void;
}

/** Build → test gate → tag → push, in that order; any failure stops before the push. */
export async function main(signal: AbortSignal, deps: MainDependencies = {}): Promise<BuildReport> {
  const settings = readSettings(deps.inputs ?? new Inputs(), readEnvironment(deps.env));
  const engine = deps.engine ? deps.engine(settings) : new DockerodeEngine(settings.dockerHost);
  const print = deps.print ?? ((line: string) => core.info(line));
  const clock = new PhaseClock();
  const started = performance.now();
  const { image } = settings;
  let pushed: string[] = [];
  try {
    const info = await clock.time('engine', () => engine.info());
    const builder = settings.builder === 'auto' ? (info.buildkit ? 'buildkit' : 'classic') : settings.builder;
    core.info(`Docker ${info.version} (API ${info.apiVersion}, ${info.os}/${info.arch}) at ${engine.where}; builder: ${builder}`);
    core.info(`Tags: ${settings.tags.join(', ')}`);

    if (settings.credentials) {
      const credentials = settings.credentials;
      await clock.time('login check', () => verifyCredentials(engine, image.registry, credentials));
      core.info(`The registry ${image.registry} accepts user "${credentials.username}".`);
    }

    let contextInfo = { files: 0, bytes: 0 };
    const request = (target: string | undefined, withCache: boolean): BuildRequest => {
      const context = createBuildContext(settings.context, settings.file);
      context.done.then((c) => (contextInfo = c)).catch(() => undefined);
      return {
        context: context.stream,
        dockerfile: context.dockerfile,
        builder,
        ...(target ? { target } : {}),
        buildArgs: settings.buildArgs,
        labels: settings.labels,
        ...(settings.platform ? { platform: settings.platform } : {}),
        cacheFrom: withCache && builder === 'buildkit' ? settings.cacheFrom : [],
        noCache: settings.noCache,
        ...(settings.credentials ? { credentials: settings.credentials } : {}),
        signal,
      };
    };

    if (builder === 'classic' && settings.cacheFrom.length > 0 && !settings.noCache) {
      // The classic builder only reuses local images: fetch the cache sources first.
      await clock.time('cache pull', () =>
        core.group('Pull cache sources', async () => {
          for (const ref of settings.cacheFrom) {
            try {
              for await (const m of engine.pull(ref, settings.credentials, signal)) if (m.error) throw new Error(m.error);
              print(`pulled ${ref}`);
            } catch (error) {
              print(`no cache from ${ref}: ${errorMessage(error)}`);
            }
          }
        }),
      );
    }

    const build: BuildOutcome = await clock.time('build', () =>
      core.group(`Build ${image.repository}${settings.target ? ` (target ${settings.target})` : ''}`, () => runBuild(engine, request(settings.target, true), print)),
    );
    core.info(`Built ${build.imageId}: ${build.cachedSteps} of ${build.steps.length} steps cached.`);
    for (const miss of build.cacheMisses) core.info(`No cache from ${miss}`);

    let testGate: TestGateOutcome = {};
    if (settings.testTarget !== undefined || settings.testCommand !== undefined) {
      testGate = await clock.time('test gate', () =>
        core.group('Test gate', () =>
          runTestGate(engine, {
            imageId: build.imageId,
            testTarget: settings.testTarget,
            testCommand: settings.testCommand,
            testTargetRequest: (target) => request(target, true),
            print,
            signal,
          }),
        ),
      );
      core.info('Test gate passed.');
    }

    await clock.time('tag', async () => {
      for (const tag of settings.tags) await engine.tagImage(build.imageId, image.repository, tag);
    });

    let push: PushOutcome | undefined;
    if (settings.push) {
      push = await clock.time('push', () =>
        core.group(`Push ${settings.tags.length} tag(s) to ${image.registry}`, () =>
          pushTags(engine, { repository: image.repository, registry: image.registry, tags: settings.tags, credentials: settings.credentials, print, signal }),
        ),
      );
      pushed = push.pushed;
    } else {
      core.info('push is false: the image stays in the engine.');
    }

    const facts = await engine.inspectImage(build.imageId);
    const report: BuildReport = {
      image: image.repository,
      imageRef: push ? `${image.repository}@${push.digest}` : build.imageId,
      digest: push?.digest ?? '',
      tags: settings.tagPlan.tags,
      pushed,
      imageId: build.imageId,
      sizeBytes: facts.sizeBytes,
      durationMs: Math.round(performance.now() - started),
      builder,
      engine: { where: engine.where, version: info.version, apiVersion: info.apiVersion },
      cacheFrom: builder === 'buildkit' ? settings.cacheFrom : [],
      cacheMisses: build.cacheMisses,
      cachedSteps: build.cachedSteps,
      totalSteps: build.steps.length,
      steps: build.steps,
      testGate,
      context: contextInfo,
      phases: clock.phases,
    };
    setOutputs(report);
    await writeSummary(report);
    core.info(`image-ref: ${report.imageRef}`);
    return report;
  } catch (error) {
    const message = errorMessage(error);
    const what = pushed.length > 0 ? `pushed before the failure: ${pushed.join(', ')}` : 'nothing was pushed';
    await writeFailureSummary(image.repository, `${message}\n\n(${what})`, clock.phases).catch(() => undefined);
    throw error;
  }
}
