/**
 * `{{name}}` placeholders (SPEC §3.5), filled with plain text: a value is never read as a
 * placeholder or markup itself. A missing value is empty.
 */
export function renderTemplate(
  template: string,
  values: Record<string, string | undefined>,
  escape: (text: string) => string = (text) => text
): string {
  return template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_, name: string) =>
    escape(Object.prototype.hasOwnProperty.call(values, name) ? (values[name] ?? '') : '')
  )
}

/** Slack's mrkdwn treats &, < and > as control characters. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** HubSpot task bodies are HTML. */
export function escapeHtml(text: string): string {
  return escapeSlack(text).replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}
