import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { REPO_ROOT } from '../repo-root'

/** The front door and the docs it links to: README.md and docs/*.md. */
const FILES = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => join('docs', name))]

/** The lines outside fenced code blocks, with inline code removed. */
function prose(text: string): string[] {
  let fenced = false
  return text.split('\n').flatMap((line) => {
    if (line.startsWith('```')) {
      fenced = !fenced
      return []
    }
    return fenced ? [] : [line.replace(/`[^`]*`/g, (code) => code.replace(/[[\]()]/g, ''))]
  })
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  let fenced = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced
    const heading = fenced ? null : /^#{1,6}\s+(.*)$/.exec(line)
    if (!heading) continue
    const slug = heading[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    result.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return result
}

type Link = { file: string; target: string }

function links(file: string): Link[] {
  return prose(readFileSync(join(REPO_ROOT, file), 'utf8')).flatMap((line) =>
    [...line.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => ({ file, target: match[1] }))
  )
}

const relativeLinks = FILES.flatMap(links).filter(({ target }) => !/^[a-z][a-z+.-]*:/i.test(target))

describe('README and docs', () => {
  it('link to something: there are relative links to check', () => {
    expect(relativeLinks.length).toBeGreaterThan(20)
  })

  it.each(relativeLinks.map((link) => [link.file, link.target]))('%s → %s resolves', (file, target) => {
    const [path, anchor] = target.split('#')
    const resolved = path === '' ? join(REPO_ROOT, file) : resolve(REPO_ROOT, dirname(file), decodeURI(path))
    expect(relative(REPO_ROOT, resolved).startsWith('..')).toBe(false)
    expect(existsSync(resolved)).toBe(true)
    if (anchor !== undefined) {
      expect(statSync(resolved).isFile() && resolved.endsWith('.md')).toBe(true)
      expect([...anchors(readFileSync(resolved, 'utf8'))]).toContain(anchor)
    }
  })

  it('the README links every page of docs/ and fits on a screen or two (≤ 200 lines)', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
    const linked = new Set(links('README.md').map(({ target }) => target.split('#')[0]))
    expect(FILES.filter((file) => file !== 'README.md' && !linked.has(file))).toEqual([])
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(200)
  })
})
