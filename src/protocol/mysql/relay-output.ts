// The client's side of one relayed response: the relay's writes go to the client's socket, and
// the server's socket is paused while the client has not read what it got (backpressure). One
// object per response with its methods on the prototype: no closures made per command.
import type net from 'node:net';
import type { ClientOutput } from './relay-handler.js';

/** What the output needs of the client session (CycleSession has it). */
export interface RelayClient {
  write(bytes: Buffer): void;
  cork(): void;
  uncork(): void;
  readonly needsDrain: boolean;
  onDrained(resume: () => void): void;
}

export class RelayOutput implements ClientOutput {
  private paused = false;

  constructor(
    private readonly client: RelayClient,
    private readonly server: net.Socket,
    /** Marked once any byte of the response reached the client (it cannot be run again). */
    private readonly running: { clientSawBytes: boolean },
  ) {}

  write(bytes: Buffer): void {
    this.running.clientSawBytes = true;
    this.client.write(bytes);
    if (this.paused || !this.client.needsDrain) return;
    this.paused = true;
    this.server.pause();
    this.client.onDrained(() => this.done());
  }

  cork(): void {
    this.client.cork();
  }

  uncork(): void {
    this.client.uncork();
  }

  /** The response is over, or the client read what it had: the server's socket is read again. */
  done(): void {
    if (!this.paused) return;
    this.paused = false;
    this.server.resume();
  }
}
