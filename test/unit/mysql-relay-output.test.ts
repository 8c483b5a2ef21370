// The relay's client output: writes reach the client, a client past its high-water mark pauses
// the server's socket until it has drained (or the response ends), and the command is marked as
// seen by the client once any byte went out (it may not be run again elsewhere).
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { RelayOutput } from '../../src/protocol/mysql/relay-output.js';

function fakes() {
  const written: Buffer[] = [];
  const calls: string[] = [];
  let drained: (() => void) | null = null;
  const client = {
    needsDrain: false,
    write: (b: Buffer) => written.push(b),
    cork: () => calls.push('cork'),
    uncork: () => calls.push('uncork'),
    onDrained: (resume: () => void) => {
      drained = resume;
    },
  };
  const server = {
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
  } as unknown as net.Socket;
  return { client, server, written, calls, drain: () => drained?.() };
}

describe('RelayOutput', () => {
  it('writes through, and marks the command seen by the client', () => {
    const f = fakes();
    const running = { clientSawBytes: false };
    const out = new RelayOutput(f.client, f.server, running);
    out.cork();
    out.write(Buffer.from('a'));
    out.uncork();
    expect(f.written.map(String)).toEqual(['a']);
    expect(f.calls).toEqual(['cork', 'uncork']);
    expect(running.clientSawBytes).toBe(true);
  });

  it('pauses the server while the client drains, once, and resumes it after', () => {
    const f = fakes();
    const out = new RelayOutput(f.client, f.server, { clientSawBytes: false });
    f.client.needsDrain = true;
    out.write(Buffer.from('a'));
    out.write(Buffer.from('b'));
    expect(f.calls).toEqual(['pause']);
    f.drain();
    expect(f.calls).toEqual(['pause', 'resume']);
    // The response ending after the drain resumes nothing twice.
    out.done();
    expect(f.calls).toEqual(['pause', 'resume']);
  });

  it('resumes the server when the response ends before the client drained', () => {
    const f = fakes();
    const out = new RelayOutput(f.client, f.server, { clientSawBytes: false });
    f.client.needsDrain = true;
    out.write(Buffer.from('a'));
    out.done();
    f.drain();
    expect(f.calls).toEqual(['pause', 'resume']);
  });
});
