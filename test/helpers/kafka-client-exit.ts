/**
 * A process of its own for test/integration/kafka-secure.test.ts: connects an admin through the
 * connection module (SEQGUARD_TEST_KAFKA: a KafkaConnection as JSON), says so, waits for the
 * test's word (it restarts the broker meanwhile), closes the admin and ends. How long it then
 * takes to exit is what the test measures: nothing of the client may keep it running.
 */
import { createAdmin, type KafkaConnection } from '../../core/kafka/connection.ts';

const connection = JSON.parse(process.env.SEQGUARD_TEST_KAFKA as string) as KafkaConnection;
const admin = createAdmin(connection);
await admin.listTopics();
process.send?.('connected');
await new Promise((resolve) => process.once('message', resolve));
await admin.close();
process.disconnect?.();
