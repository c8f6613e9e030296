/**
 * Kafka's own Java CLI tools, run from the jar cache: any of them (runKafkaTool), and the topic
 * creation every broker handle offers.
 */

import { runCommand, tailLines } from '../commands.ts';
import { KafkaBrokerError } from '../errors.ts';
import { classPath, fetchKafkaJars } from './jars.ts';
import { TOOLS_LOG4J_FILE } from './paths.ts';
import { checkJava, javaBin } from './prerequisites.ts';

const TOOL_TIMEOUT_MS = 120_000;
/** CLI tools live for a second or two, so the C1-only JIT starts them faster and costs nothing. */
const TOOL_JVM_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs one of Kafka's Java CLI tools (e.g. `org.apache.kafka.tools.TopicCommand`) from the jar
 * cache and resolves with its output; rejects when it exits non-zero or times out.
 */
export async function runKafkaTool(
  mainClass: string,
  args: readonly string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<ToolResult> {
  await checkJava();
  const libsDir = await fetchKafkaJars();
  const timeoutMs = options.timeoutMs ?? TOOL_TIMEOUT_MS;
  const result = await runCommand(
    javaBin(),
    [...TOOL_JVM_FLAGS, ...log4jFlag(TOOLS_LOG4J_FILE), ...classPath(libsDir), mainClass, ...args],
    { input: options.input, timeoutMs },
  );
  if (result.code !== 0) {
    const how = result.code === null ? `timed out after ${timeoutMs} ms` : `exited ${result.code}`;
    throw new KafkaBrokerError(
      `${mainClass} ${args.join(' ')} ${how}:\n${tailLines(result.stderr + result.stdout)}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

/** Creates a topic; does nothing if it exists already (whatever its partition count). */
export async function createTopic(
  bootstrap: string,
  name: string,
  partitions: number,
): Promise<void> {
  assertPartitionCount(partitions);
  // No --replication-factor: the brokers' default fits both one local node and a real cluster.
  await runKafkaTool('org.apache.kafka.tools.TopicCommand', [
    '--bootstrap-server',
    bootstrap,
    '--create',
    '--if-not-exists',
    '--topic',
    name,
    '--partitions',
    String(partitions),
  ]);
}

export function assertPartitionCount(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new KafkaBrokerError(`partitions must be a positive integer, got ${partitions}`);
  }
}

/** The JVM flag that points log4j at one of local/kafka's settings files. */
export function log4jFlag(configFile: string): string[] {
  return [`-Dlog4j2.configurationFile=${configFile}`];
}
