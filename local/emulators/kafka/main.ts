// Command line for the local Kafka broker:
//   node local/emulators/kafka/main.ts start [--partitions N] [--topic NAME ...] [--log-dir DIR] [--msk-iam]
//   node local/emulators/kafka/main.ts fetch   (only fills the jar cache, e.g. to warm CI)

import { parseArgs } from 'node:util';
import { UsageError } from '../errors.ts';
import { type KafkaSecurity, startKafkaBroker } from './broker.ts';
import { fetchKafkaJars, kafkaVersion } from './jars.ts';

const USAGE = `usage: node local/emulators/kafka/main.ts start [--partitions N] [--topic NAME ...] [--log-dir DIR] [--msk-iam]
       node local/emulators/kafka/main.ts fetch`;

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      partitions: { type: 'string' },
      topic: { type: 'string', multiple: true },
      'log-dir': { type: 'string' },
      'msk-iam': { type: 'boolean' },
    },
  });
  const [command, ...extra] = positionals;
  if (extra.length > 0) {
    throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  }
  switch (command) {
    case 'fetch':
      return fetchJars();
    case 'start':
      return startBroker({
        partitions: parsePartitions(values.partitions),
        topics: values.topic ?? [],
        logDir: values['log-dir'],
        security: values['msk-iam'] ? 'msk-iam' : 'plaintext',
      });
    default:
      throw new UsageError(command ? `unknown command: ${command}` : 'missing command');
  }
}

async function fetchJars(): Promise<void> {
  const libsDir = await fetchKafkaJars();
  console.log(`Kafka ${await kafkaVersion()} jars in ${libsDir}`);
}

async function startBroker(options: {
  partitions: number | undefined;
  topics: string[];
  logDir: string | undefined;
  security: KafkaSecurity;
}): Promise<void> {
  const broker = await startKafkaBroker(options);
  // stdout carries only the address clients use, so scripts can read it; the rest goes to stderr.
  console.log(broker.mskIam?.bootstrap ?? broker.bootstrap);
  const where = broker.logFile ? `log: ${broker.logFile}` : 'from KAFKA_BROKERS, nothing started';
  console.error(
    `Kafka ${await kafkaVersion()} ready at ${broker.bootstrap} (${where}); Ctrl-C stops it`,
  );
  if (broker.mskIam) {
    const { bootstrap, caFile, credentials } = broker.mskIam;
    console.error(
      [
        `SASL_SSL with MSK IAM at ${bootstrap}; a client of it needs:`,
        `  export SEQGUARD_KAFKA_BOOTSTRAP=${bootstrap} SEQGUARD_KAFKA_MSK_IAM=true SEQGUARD_KAFKA_CA_FILE=${caFile}`,
        `  export AWS_ACCESS_KEY_ID=${credentials.accessKeyId} AWS_SECRET_ACCESS_KEY=${credentials.secretAccessKey} AWS_REGION=${credentials.region}`,
      ].join('\n'),
    );
  }
  // Signal handlers alone do not keep Node running, this timer does.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const reason = await Promise.race([
    onceSignal('SIGINT'),
    onceSignal('SIGTERM'),
    broker.exited.then(() => 'exit' as const),
  ]);
  clearInterval(keepAlive);
  if (reason === 'exit') {
    process.exitCode = 1;
    console.error('Kafka broker exited on its own');
  }
  await broker.stop();
}

function onceSignal(signal: NodeJS.Signals): Promise<NodeJS.Signals> {
  return new Promise((resolveSignal) => process.once(signal, () => resolveSignal(signal)));
}

/** Our own usage errors and those of parseArgs (unknown option, missing value, ...). */
function isUsageError(error: unknown): error is Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (
    error instanceof UsageError || (error instanceof Error && !!code?.startsWith('ERR_PARSE_ARGS'))
  );
}

function parsePartitions(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const partitions = Number(text);
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new UsageError(`--partitions must be a positive integer, got ${text}`);
  }
  return partitions;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (isUsageError(error)) {
    console.error(`${error.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(error);
    process.exitCode = 1;
  }
});
