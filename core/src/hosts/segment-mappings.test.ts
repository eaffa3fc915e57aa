import { ModelError } from '../model/compile'
import { parseMappings } from '../model/mappings'
import { segmentSubscription, triggerEvents } from './segment-mappings'

function problems(run: () => unknown): string[] {
  try {
    run()
  } catch (error) {
    if (error instanceof ModelError) return error.message.split('\n').slice(1).map((line) => line.trim())
    throw error
  }
  return []
}

describe("Segment's export of the destination's subscriptions", () => {
  it('reads the event names of a trigger as the builder writes it, and nothing else', () => {
    expect(triggerEvents('type = "track" and event = "Report Created"')).toEqual(['Report Created'])
    expect(triggerEvents('type = "track" and (event = "A" or event = "B \\"quoted\\"")')).toEqual(['A', 'B "quoted"'])
    expect(triggerEvents('event = "A"')).toEqual(['A'])
    expect(triggerEvents('type = "track"')).toEqual(['*'])
    expect(triggerEvents('type = "track" and properties.plan = "pro"')).toBeUndefined()
    expect(triggerEvents('type = "identify"')).toBeUndefined()
  })

  it('gives the mappings its mapping subscriptions save, in either form, skipping the other actions', () => {
    expect(
      parseMappings(
        [
          { partnerAction: 'trackEvent', subscribe: 'type = "track"', mapping: {} },
        {
          partnerAction: 'mapEventToProperty',
          subscribe: 'type = "track" and event = "Order Completed"',
          mapping: { property: 'revenue_total', aggregation: 'sum', window: '', value: { '@path': '$.properties.amount' }, message_id: { '@path': '$.messageId' } }
        },
        {
          actionSlug: 'mapEventToProperty',
          trigger: 'type = "track" and event = "Plan Changed"',
          settings: { property: 'plan', object: 'contact', aggregation: 'latest', window: '30d', value: { '@path': '$.properties.plan' } }
        }
        ],
        'mappings',
        segmentSubscription
      )
    ).toEqual([
      { property: 'revenue_total', object: 'contact', aggregation: 'sum', event: 'Order Completed', value: 'amount' },
      { property: 'plan', object: 'contact', aggregation: 'latest', event: 'Plan Changed', value: 'plan' }
    ])
  })

  it('names a trigger it cannot replay, and a bad field, at their subscription', () => {
    expect(
      problems(() =>
        parseMappings(
          [
            { partnerAction: 'mapEventToProperty', subscribe: 'type = "track" and properties.x = 1', mapping: { property: 'x', aggregation: 'flag' } },
            { partnerAction: 'mapEventToProperty', subscribe: 'event = "A"', mapping: { property: 'y', aggregation: 'sum' } }
          ],
          'export.json',
          segmentSubscription
        )
      )
    ).toEqual([
      'export.json: [0].subscribe: pqlkit replays triggers on event names only, such as type = "track" and event = "Report Created" (joined with or); got "type = \\"track\\" and properties.x = 1"',
      'export.json: [1].value: sum needs the value to read, such as amount'
    ])
  })
})
