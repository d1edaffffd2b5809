// Reads settings files for the CLI: a `.env`-style file or Azure Functions' local.settings.json
// (its `Values`), so the CLI and `func start` can share one file. Real env vars win over the file.
import { readFileSync } from 'node:fs';
import { errorText } from '../model/errors';
import type { Env } from '../settings';
import { UsageError } from './cli-errors';

export function readEnvFile(path: string): Env {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read settings file ${path}: ${(err as NodeJS.ErrnoException).code ?? errorText(err)}`);
  }
  if (path.endsWith('.json')) return fromLocalSettings(path, text);
  const env: Env = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new UsageError(`${path}:${i + 1}: expected NAME=value`);
    let value = m[2] ?? '';
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    env[m[1]!] = value;
  });
  return env;
}

function fromLocalSettings(path: string, text: string): Env {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(`${path} is not valid JSON`);
  }
  const values = (parsed as { Values?: unknown }).Values;
  if (typeof values !== 'object' || values === null) throw new UsageError(`${path} has no "Values" object`);
  const env: Env = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') env[k] = v;
  return env;
}

/** The file's values overlaid by the real environment (so one-off overrides on the command line work). */
export function mergeEnv(file: Env, processEnv: Env): Env {
  return { ...file, ...Object.fromEntries(Object.entries(processEnv).filter(([, v]) => v !== undefined)) };
}
