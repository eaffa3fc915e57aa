import type { Decay, Model, Section } from '../model/compile'
import { HTTPS_URL } from '../model/schema'
import { Io, readModel } from './io'
import { renderTable } from './table'

function describeDecay(decay: Decay): string {
  const days = (ms: number) => `${+(ms / 86_400_000).toFixed(2)}d`
  switch (decay.kind) {
    case 'linear':
      return `-${decay.points} after ${days(decay.afterMs)} of inactivity, then every ${days(decay.everyMs)}`
    case 'half_life':
      return `halves every ${days(decay.halfLifeMs)} of inactivity`
    case 'steps':
      return decay.steps.map((step) => `×${step.keep} after ${days(step.afterMs)}`).join(', ')
  }
}

/** Only the host of a webhook is shown: its path is the secret. */
export function redactWebhook(url: string): string {
  const host = HTTPS_URL.exec(url)?.[1]
  return host ? `https://${host}/…` : '(webhook)'
}

function printSection(section: Section, title: string): string {
  let text = `\n${title} signals (${section.signals.length})\n`
  text += renderTable(
    ['property', 'kind', 'definition'],
    section.signals.map((signal) => [signal.name, signal.kind, signal.source])
  )
  for (const score of section.scores) {
    text += `\n${title} score ${score.property}`
    if (score.activity) text += ` (activity: ${score.activity})`
    text += '\n'
    if (score.rules) {
      text += renderTable(
        ['points', 'rule', 'when'],
        score.rules.map((rule) => [
          rule.per !== undefined
            ? `${rule.points > 0 ? '+' : ''}${rule.points} per ${rule.every} ${rule.per}${rule.cap !== undefined ? `, cap ${rule.cap}` : ''}`
            : `${rule.points > 0 ? '+' : ''}${rule.points}${rule.once ? ' once' : ''}`,
          rule.label,
          rule.whenText ?? ''
        ])
      )
    }
    if (score.composite) {
      text += score.composite.map(({ property, weight }) => `  ${weight} × ${property}`).join('\n') + '\n'
    }
    if (score.decay) text += `decay: ${describeDecay(score.decay)}\n`
    text += `range: ${score.min} to ${score.max ?? 'no maximum'}\n`
    if (score.tiers.length > 0) {
      text += `tiers: ${score.tiers.map((tier) => `${tier.name} ≥ ${tier.threshold}`).join(' · ')}\n`
    }
  }
  return text
}

export function printModel(model: Model, path: string): string {
  let text = `✓ ${path}: "${model.name}" is valid\n`
  text += printSection(model.contact, 'Contact')
  if (model.company) {
    text += printSection(model.company, 'Company')
    text += `company from email domain: ${model.companyFromEmail ? 'yes' : 'no'}\n`
  }
  if (model.handoffs.length > 0) {
    text += `\nHand-offs (${model.handoffs.length})\n`
    for (const handoff of model.handoffs) {
      const actions = [
        handoff.slack && `Slack ${handoff.slack.webhook ? redactWebhook(handoff.slack.webhook) : '(the host\'s default webhook)'}`,
        handoff.task && `task "${handoff.task.title}"`
      ].filter(Boolean)
      text += `  on ${handoff.score} ${handoff.label}: ${actions.join(' and ')}`
      text += handoff.unlessText ? ` (unless ${handoff.unlessText})\n` : '\n'
    }
  }
  return text
}

export function validateCommand(io: Io, path: string, mappingsPath?: string): number {
  io.stdout.write(printModel(readModel(io, path, mappingsPath), path))
  return 0
}
