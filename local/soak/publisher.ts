/**
 * The soak's traffic on its way out: the hardened producer in a process of its own with durable
 * seq counters (SoakProducer), and the model of the unique events fed with the seqs it stamped.
 */

import type { RedisServer } from '../emulators/redis/server.ts';
import type { KafkaClients } from '../scenario/secured-clients.ts';
import type { SoakRun } from './context.ts';
import { SoakModel } from './model.ts';
import { SoakProducer } from './producer.ts';
import type { Draft } from './traffic.ts';

/** A burst that landed, as SoakPublisher.onLanded tells it. */
export interface Landed {
  token: string;
  sentAt: number;
  model: SoakModel;
}

export class SoakPublisher {
  /** The unique events the producer stamped, as Redis must hold them in the end. */
  readonly model = new SoakModel();
  readonly producer: SoakProducer;
  /** The burst on its way: the stamps the producer reports belong to it. */
  #current: Draft[] = [];

  /** Starts nothing yet: the producer process starts with the first burst. Stopped by `resources`. */
  constructor(
    run: SoakRun,
    kafka: KafkaClients,
    counterServer: RedisServer,
    resources: AsyncDisposableStack,
  ) {
    const access = counterServer.access;
    this.producer = new SoakProducer(
      {
        topic: run.topic,
        kafka: { clientId: 'seqguard-soak', ...kafka.connection },
        counters: {
          url: counterServer.url,
          cluster: false,
          commandTimeoutMs: 5_000,
          ...(access
            ? { username: access.username, password: access.password, tlsCaFile: access.caFile }
            : {}),
        },
        keyPrefix: run.prefix,
      },
      (stamps) => this.model.add(this.#current, stamps),
    );
    resources.defer(() => this.producer.stop());
  }

  /**
   * Told of each burst once it landed: the position of the topic's records then, when its send
   * began (performance.now()), and the model's score of `players` at that position (the model
   * holds exactly the bursts sent so far).
   */
  onLanded: ((landed: Landed) => void) | undefined;

  /** Publishes burst number `burst` once, whatever kills it meets. */
  async publish(burst: number, drafts: Draft[]): Promise<void> {
    this.#current = drafts;
    const sentAt = performance.now();
    const token = await this.producer.publish(burst, drafts);
    if (token !== undefined) this.onLanded?.({ token, sentAt, model: this.model });
  }
}
