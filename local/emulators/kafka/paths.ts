/**
 * Where the local Kafka broker's files are: its Maven project, log4j settings and MSK IAM
 * validator source beside this file (local/emulators/kafka/); what it makes once is in .cache/
 * (local/emulators/cache.ts).
 */
import { join } from 'node:path';

export const KAFKA_PROJECT_DIR = import.meta.dirname;
export const POM_FILE = join(KAFKA_PROJECT_DIR, 'pom.xml');
export const BROKER_LOG4J_FILE = join(KAFKA_PROJECT_DIR, 'broker-log4j2.properties');
export const TOOLS_LOG4J_FILE = join(KAFKA_PROJECT_DIR, 'tools-log4j2.properties');
export const VALIDATOR_SOURCE = join(KAFKA_PROJECT_DIR, 'MskIamValidator.java');
