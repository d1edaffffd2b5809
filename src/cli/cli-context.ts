// What every CLI command gets: its environment and output streams (passed in so tests can run
// commands in-process), and the shared steps of loading settings and building clients.
import { buildDeps, type AppDeps } from '../deps';
import { createLogger, jsonStderrSink, type Logger } from '../log';
import { loadSettings, SettingsError, type Env, type Settings } from '../settings';
import { UsageError } from './cli-errors';
import { mergeEnv, readEnvFile } from './env-file';

export interface CliContext {
  env: Env;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WriteStream;
  signal?: AbortSignal;
}

export function settingsFrom(ctx: CliContext, envFile: string | undefined): Settings {
  const env = envFile ? mergeEnv(readEnvFile(envFile), ctx.env) : ctx.env;
  try {
    return loadSettings(env);
  } catch (err) {
    if (err instanceof SettingsError) throw new UsageError(err.message);
    throw err;
  }
}

export function cliLogger(settings: Settings): Logger {
  return createLogger(jsonStderrSink, settings.logLevel === 'info' ? 'warn' : settings.logLevel);
}

export async function depsFrom(ctx: CliContext, envFile: string | undefined): Promise<AppDeps> {
  const settings = settingsFrom(ctx, envFile);
  return buildDeps(settings, { log: cliLogger(settings), interactive: true });
}

export function write(stream: NodeJS.WritableStream, line: string): void {
  stream.write(`${line}\n`);
}
