/**
 * What the local broker needs on the machine, checked before it is used, with what to install
 * when it is missing: Java 17+ (the broker and its tools), Maven (once, to fetch the jars) and a
 * JDK's javac (once, to compile the MSK IAM validator). JAVA_HOME wins over PATH.
 */
import { join } from 'node:path';
import { runCommand } from '../commands.ts';
import { MissingPrerequisiteError } from '../errors.ts';

const JAVA_PACKAGE_HINT =
  'install it with: apt-get install openjdk-17-jre-headless, or set KAFKA_BROKERS to a Kafka you run';
let javaCheck: Promise<void> | undefined;

export function checkJava(): Promise<void> {
  javaCheck ??= checkJavaOnce();
  return javaCheck;
}

async function checkJavaOnce(): Promise<void> {
  let output: string;
  try {
    const result = await runCommand(javaBin(), ['-version'], { timeoutMs: 30_000 });
    output = result.stderr + result.stdout;
  } catch (error) {
    throw new MissingPrerequisiteError(
      `Java 17 or newer is needed for the local Kafka broker but ${javaBin()} could not be run; ${JAVA_PACKAGE_HINT}`,
      { cause: error },
    );
  }
  const major = javaMajorVersion(output);
  if (major === undefined || major < 17) {
    throw new MissingPrerequisiteError(
      `Java 17 or newer is needed for the local Kafka broker, found ${major ?? 'an unknown version'} (${javaBin()}); ${JAVA_PACKAGE_HINT}`,
    );
  }
}

/** `java -version` prints e.g. `openjdk version "17.0.15"`, or `"1.8.0_402"` before Java 9. */
function javaMajorVersion(output: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(output);
  if (!match) {
    return undefined;
  }
  const first = Number(match[1]);
  return first === 1 ? Number(match[2]) : first;
}

export async function checkMaven(): Promise<void> {
  try {
    const result = await runCommand('mvn', ['-v'], { timeoutMs: 60_000 });
    if (result.code === 0) {
      return;
    }
  } catch (error) {
    throw new MissingPrerequisiteError(
      'Maven is needed once to fetch the Kafka broker jars but mvn could not be run; install it with: apt-get install maven',
      { cause: error },
    );
  }
  throw new MissingPrerequisiteError(
    'mvn -v failed; check the Maven install (apt-get install maven)',
  );
}

/** JAVA_HOME wins over PATH, as it does for mvn, so both use the same JVM. */
export function javaBin(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'java') : 'java';
}

export function javacBin(): string {
  const home = process.env.JAVA_HOME;
  return home ? join(home, 'bin', 'javac') : 'javac';
}
