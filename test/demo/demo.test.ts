import { runDemo } from './demo'

describe('npm start', () => {
  it('syncs the sample into the emulator, prints a leaderboard and tier distribution, and matches pqlkit simulate', async () => {
    let stdout = ''
    let stderr = ''
    const result = await runDemo({ write: (text: string) => (stdout += text) }, { write: (text: string) => (stderr += text) })
    expect(result.mismatches).toEqual([])
    expect(result.contacts.length).toBe(300)
    expect(result.companies.length).toBeGreaterThan(20)
    expect(stdout).toMatch(/^email\s+pql_score\s+tier\s+top reasons$/m)
    expect(stdout).toMatch(/^pql_score tiers \(300 contacts\)$/m)
    expect(stdout).toMatch(/^Sales-Ready\s+█+ \d+$/m)
    expect(stdout).toContain('✓ HubSpot holds exactly what pqlkit simulate computes')
    expect(stdout + stderr).not.toContain('emulator-token')
  }, 120_000)
})
