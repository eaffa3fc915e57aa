import type { Model, Section } from '../model/compile'
import { simulate } from '../engine/simulate'
import { hubspotConfigFromEnv } from '../hubspot/api'
import { describeIncompatible, planSchema, SchemaPlan } from '../hubspot/bootstrap'
import { officialHubSpotApi } from '../hubspot/client'
import type { ObjectType } from '../hubspot/properties'
import { Transport } from '../hubspot/transport'
import type { Env } from './hubspot'
import { Io, parseNow, readModel, UsageError } from './io'
import { readEvents } from './events-file'
import { renderBars, renderTable } from './table'

/** `mappings`: merged into both models (a change of the model, not of its mappings). */
export type PlanOptions = { model: string; mappings?: string; from?: string; events?: string; now?: string; json?: boolean }

/** A signal whose stored aggregate will not carry over: new, changed or gone. */
export type SignalChange = { subject: 'contact' | 'company'; signal: string; change: 'new' | 'changed' | 'removed' }

/** Subjects moving from one tier to another under the new model (`–`: below every tier, or no tiers). */
export type TierShift = { score: string; from: string; to: string; subjects: number }

/**
 * SPEC §3.2: an aggregate is kept only while its signal's definition (its fingerprint) is
 * unchanged; a new signal counts from the change on, a changed one starts again.
 */
export function signalChanges(current: Model, next: Model): SignalChange[] {
  const changes: SignalChange[] = []
  const compare = (subject: 'contact' | 'company', before: Section | undefined, after: Section | undefined) => {
    const old = new Map((before?.signals ?? []).map((signal) => [signal.name, signal.fingerprint]))
    const now = new Map((after?.signals ?? []).map((signal) => [signal.name, signal.fingerprint]))
    for (const [signal, fingerprint] of now) {
      if (!old.has(signal)) changes.push({ subject, signal, change: 'new' })
      else if (old.get(signal) !== fingerprint) changes.push({ subject, signal, change: 'changed' })
    }
    for (const signal of old.keys()) if (!now.has(signal)) changes.push({ subject, signal, change: 'removed' })
  }
  compare('contact', current.contact, next.contact)
  compare('company', current.company, next.company)
  return changes
}

/** Each subject's tier under both models, counted by move; scores the new model keeps by name. */
export function tierShift(current: Model, next: Model, events: Parameters<typeof simulate>[1], now: number | undefined): TierShift[] {
  const before = simulate(current, events, now)
  const after = simulate(next, events, now ?? before.now)
  const tierOf = (properties: Record<string, unknown>, score: string) => String(properties[`${score}_tier`] ?? '') || '–'
  const old = new Map(before.subjects.map((subject) => [`${subject.subject}:${subject.id}`, subject.properties]))
  const counts = new Map<string, TierShift>()
  for (const subject of after.subjects) {
    const section = subject.subject === 'company' ? next.company : next.contact
    for (const score of section?.scores ?? []) {
      if (score.tiers.length === 0) continue
      const from = tierOf(old.get(`${subject.subject}:${subject.id}`) ?? {}, score.property)
      const to = tierOf(subject.properties, score.property)
      const key = `${score.property}\u0000${from}\u0000${to}`
      const shift = counts.get(key) ?? { score: score.property, from, to, subjects: 0 }
      shift.subjects++
      counts.set(key, shift)
    }
  }
  return [...counts.values()].sort((a, b) => (a.score < b.score ? -1 : a.score > b.score ? 1 : b.subjects - a.subjects))
}

/**
 * `pqlkit plan`: what a model change will do, before it is made. The portal's side (read from
 * HubSpot when a token is set): properties to create, tier options to change, properties of an
 * incompatible type. With `--from` (the model in use): signals whose stored aggregates reset.
 * With `--from` and `--events`: how many subjects move from which tier to which.
 */
export async function planCommand(io: Io, env: Env, options: PlanOptions): Promise<number> {
  const next = readModel(io, options.model, options.mappings)
  const current = options.from === undefined ? undefined : readModel(io, options.from, options.mappings)
  if (options.events !== undefined && current === undefined) throw new UsageError('--events needs --from, the model in use, to compare with')
  const portal: { objectType: ObjectType; plan: SchemaPlan }[] = []
  const config = hubspotConfigFromEnv(env)
  if (config) {
    const api = officialHubSpotApi(config, new Transport())
    for (const objectType of (next.company ? ['contacts', 'companies'] : ['contacts']) as ObjectType[]) {
      portal.push({ objectType, plan: planSchema(next, objectType, await api.properties(objectType)) })
    }
  }
  const signals = current ? signalChanges(current, next) : []
  let shifts: TierShift[] = []
  if (current && options.events !== undefined) {
    const file = readEvents(io, options.events)
    for (const error of file.errors) io.stderr.write(`rejected ${options.events}:${error.line}: ${error.message}\n`)
    shifts = tierShift(current, next, file.events.map((line) => line.event), parseNow(options.now))
  }

  if (options.json) {
    io.stdout.write(`${JSON.stringify({ portal: config ? portal : null, signals: current ? signals : null, tiers: options.events ? shifts : null })}\n`)
    return 0
  }
  const out = io.stdout
  if (!config) out.write('HubSpot: not checked (set HUBSPOT_ACCESS_TOKEN to compare with the portal)\n')
  else {
    const lines = portal.flatMap(({ objectType, plan }) => [
      ...plan.create.map((property) => `create ${objectType}.${property.name} (${property.type})`),
      ...plan.update.map(
        ({ name, added, retire }) =>
          `options of ${objectType}.${name}:${added.length ? ` add ${added.join(', ')}` : ''}${retire.length ? `; retire ${retire.join(', ')} (pqlkit apply drops an old option once no record holds it)` : ''}`
      ),
      ...plan.incompatible.map(describeIncompatible)
    ])
    out.write(lines.length === 0 ? 'HubSpot: nothing to change\n' : `HubSpot:\n${lines.map((line) => `  ${line}\n`).join('')}`)
  }
  if (current) {
    out.write(
      signals.length === 0
        ? 'Signals: every stored aggregate carries over\n'
        : `Signals whose stored aggregates do not carry over:\n${renderTable(
            ['subject', 'signal', 'change', 'what happens'],
            signals.map(({ subject, signal, change }) => [
              subject,
              signal,
              change,
              change === 'new' ? 'counts events from the change on' : change === 'changed' ? 'starts again from the change on' : 'dropped'
            ])
          )}`
    )
  }
  if (options.events !== undefined) {
    out.write(`Tier shift on ${options.events}:\n`)
    out.write(renderTable(['score', 'from', 'to', 'subjects'], shifts.map((shift) => [shift.score, shift.from, shift.to, shift.subjects])))
    const moved = shifts.filter((shift) => shift.from !== shift.to)
    out.write(moved.length === 0 ? 'no subject changes tier\n' : renderBars(moved.map((shift) => ({ label: `${shift.score}: ${shift.from} → ${shift.to}`, value: shift.subjects }))))
  }
  return 0
}
