// Vitest setup file (runs before every test file): tests talk to Azurite, the Graph emulator and their
// own servers on loopback only. A TCP connection to any other host fails like a refused connection and
// the file's tests then fail naming the host, so no test reaches the internet or passes because it did.
import net from 'node:net';
import { afterAll } from 'vitest';

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\]|::ffff:127(\.\d{1,3}){3})$/i;

// On globalThis: the patch is installed once per process, even when this module is evaluated again
// (for the next test file in the same worker, or imported by the guard's own test).
const state = ((globalThis as { __loopbackOnly?: { blocked: string[]; installed: boolean } }).__loopbackOnly ??= {
  blocked: [],
  installed: false,
});

/** The hosts refused since the last call, forgetting them (for the guard's own test). */
export function takeBlockedHosts(): string[] {
  return state.blocked.splice(0);
}

/** The host a Socket#connect call targets, or undefined for a local (IPC) socket. */
function targetHost(args: unknown[]): string | undefined {
  // net.connect() hands its normalised arguments over as one array: [options, callback].
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'object' && first !== null) {
    const o = first as { path?: unknown; host?: unknown };
    if (typeof o.path === 'string') return undefined;
    return typeof o.host === 'string' ? o.host : 'localhost';
  }
  if (typeof first === 'string' && !/^\d+$/.test(first)) return undefined; // a pipe path
  return typeof args[1] === 'string' ? args[1] : 'localhost';
}

if (!state.installed) {
  state.installed = true;
  const connect = net.Socket.prototype.connect as (...a: unknown[]) => net.Socket;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
    const host = targetHost(args);
    if (host === undefined || LOOPBACK.test(host)) return connect.apply(this, args);
    state.blocked.push(host);
    const err = Object.assign(new Error(`connect ECONNREFUSED ${host} (tests may only connect to loopback)`), { code: 'ECONNREFUSED' });
    process.nextTick(() => this.destroy(err));
    return this;
  } as typeof net.Socket.prototype.connect;
}

afterAll(() => {
  const hosts = takeBlockedHosts();
  if (hosts.length > 0) throw new Error(`a test tried to connect to a host other than loopback: ${[...new Set(hosts)].join(', ')}`);
});
