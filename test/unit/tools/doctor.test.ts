/**
 * The verdicts of `doctor` that no local AWS API can produce the input for: a Kafka trigger's
 * processing results (moto reports none, LocalStack runs no Kafka trigger in host mode), the
 * age at which an alarm counts as stuck in INSUFFICIENT_DATA (an emulator would need that long),
 * and the drift metrics' namespace of stacks with no check-drift function to ask.
 * The integration tests run the whole command against moto and LocalStack.
 */
import { describe, expect, it } from 'vitest';
import { isStuck, stuckAfterWindows } from '../../../tools/doctor/alarms.ts';
import { driftNamespace } from '../../../tools/doctor/metrics.ts';
import type { DoctorContext } from '../../../tools/doctor/model.ts';
import { mappingProblem } from '../../../tools/doctor/triggers.ts';

describe('mappingProblem()', () => {
  // Lambda API reference, EventSourceMappingConfiguration:
  // https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html
  const enabled = { UUID: 'u-1', Topics: ['events'], State: 'Enabled' };

  it('accepts an Enabled trigger whose last result is OK or "No records processed"', () => {
    expect(mappingProblem({ ...enabled, LastProcessingResult: 'OK' })).toBeUndefined();
    expect(
      mappingProblem({ ...enabled, LastProcessingResult: 'No records processed' }),
    ).toBeUndefined();
    expect(mappingProblem(enabled)).toBeUndefined();
  });

  it('names a PROBLEM result (Lambda guide, "Troubleshooting Amazon MSK event source mapping errors")', () => {
    // https://docs.aws.amazon.com/lambda/latest/dg/with-msk-troubleshoot.html
    const result = 'PROBLEM: Connection error. Your VPC must be able to connect to Lambda and STS';
    expect(mappingProblem({ ...enabled, LastProcessingResult: result })).toBe(
      `u-1 (events): last processing result "${result}"`,
    );
  });

  it('names a trigger that is not Enabled, with the reason Lambda gives', () => {
    expect(
      mappingProblem({
        ...enabled,
        State: 'Disabled',
        StateTransitionReason: 'Lambda initiated',
      }),
    ).toBe('u-1 (events) is Disabled: Lambda initiated');
    expect(mappingProblem({ ...enabled, State: 'Creating' })).toBe('u-1 (events) is Creating');
  });
});

describe('isStuck()', () => {
  const now = new Date('2026-12-07T12:00:00Z');
  const minutesAgo = (m: number) => new Date(now.getTime() - m * 60_000);
  const oneMinute = { StateValue: 'INSUFFICIENT_DATA' as const, Period: 60, EvaluationPeriods: 1 };

  it(`counts INSUFFICIENT_DATA as stuck after ${stuckAfterWindows} evaluation windows`, () => {
    expect(isStuck({ ...oneMinute, AlarmConfigurationUpdatedTimestamp: minutesAgo(2) }, now)).toBe(
      false,
    );
    expect(isStuck({ ...oneMinute, AlarmConfigurationUpdatedTimestamp: minutesAgo(4) }, now)).toBe(
      true,
    );
    // A five-minute period (DriftCheckSilent): 15 minutes.
    const fiveMinutes = { ...oneMinute, Period: 300 };
    expect(
      isStuck({ ...fiveMinutes, AlarmConfigurationUpdatedTimestamp: minutesAgo(10) }, now),
    ).toBe(false);
    expect(
      isStuck({ ...fiveMinutes, AlarmConfigurationUpdatedTimestamp: minutesAgo(16) }, now),
    ).toBe(true);
  });

  it('never counts an alarm in OK or ALARM', () => {
    for (const StateValue of ['OK', 'ALARM'] as const)
      expect(
        isStuck(
          { ...oneMinute, StateValue, AlarmConfigurationUpdatedTimestamp: minutesAgo(60) },
          now,
        ),
      ).toBe(false);
  });
});

describe('driftNamespace()', () => {
  it('takes the default, seqguard, when the stacks hold a schedule but no check-drift to ask', async () => {
    // Prepare: no clients at all, so any API call would throw.
    const context = {
      deployment: {
        region: 'us-east-1',
        stacks: [],
        resources: [
          {
            stack: 'shop-pipeline',
            logicalId: 'Schedule',
            type: 'AWS::Scheduler::Schedule',
            physicalId: 'shop-check-drift',
          },
        ],
      },
      clients: {},
      now: new Date(),
    } as unknown as DoctorContext;
    // Act, Assess
    expect(await driftNamespace(context)).toBe('seqguard');
  });
});
