/**
 * The broker's server.properties: one combined KRaft node (broker and controller) on loopback,
 * with the SASL_SSL listener's settings when it is secure.
 */
import { SECURE_HOST, type SecureSetup, secureListenerProperties } from './msk-iam-listener.ts';

export function serverProperties(settings: {
  brokerPort: number;
  controllerPort: number;
  dataDir: string;
  partitions: number;
  secure: (SecureSetup & { port: number }) | undefined;
}): string {
  const broker = `127.0.0.1:${settings.brokerPort}`;
  const controller = `127.0.0.1:${settings.controllerPort}`;
  const secure = settings.secure;
  const listeners = [`PLAINTEXT://${broker}`, `CONTROLLER://${controller}`];
  const advertised = [...listeners];
  const protocols = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  if (secure) {
    // Bound on loopback only, advertised by the name its certificate carries, so that clients
    // verify the certificate against the host they were told to connect to.
    listeners.push(`SASL_SSL://127.0.0.1:${secure.port}`);
    advertised.push(`SASL_SSL://${SECURE_HOST}:${secure.port}`);
    protocols.push('SASL_SSL:SASL_SSL');
  }
  return `${[
    '# Single combined KRaft node written by local/emulators/kafka/server-properties.ts.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=${controller}`,
    `listeners=${listeners.join(',')}`,
    `advertised.listeners=${advertised.join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=${protocols.join(',')}`,
    ...(secure ? secureListenerProperties(secure) : []),
    `log.dirs=${settings.dataDir}`,
    `num.partitions=${settings.partitions}`,
    // One node cannot hold more replicas than one of the internal topics.
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // Tests join consumer groups often; the default 3 s delay would slow every first join.
    'group.initial.rebalance.delay.ms=0',
    // Topics must be created on purpose, as on MSK, so a typo fails instead of creating a topic.
    'auto.create.topics.enable=false',
  ].join('\n')}\n`;
}
