// The setup file test/support/loopback-only.ts must refuse a connection to anything but loopback
// (and only that): checked here with a connection that would otherwise go to a public address.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { takeBlockedHosts } from '../support/loopback-only';

function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
  });
}

describe('loopback-only test network', () => {
  it('lets a loopback connection through', async () => {
    const server = net.createServer((c) => c.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      expect(await tryConnect('127.0.0.1', port)).toBe('connected');
      expect(await tryConnect('localhost', port)).toMatch(/connected|ECONNREFUSED/);
    } finally {
      server.close();
    }
  });

  it('refuses a connection to any other host, and records it', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed, so a missing guard would hang, not connect.
    expect(await tryConnect('192.0.2.1', 443)).toBe('ECONNREFUSED');
    expect(takeBlockedHosts()).toEqual(['192.0.2.1']);
  });
});
