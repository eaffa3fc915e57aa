import { Identities } from './identity'

describe('identity rules (SPEC §2, README "Identity")', () => {
  it('a userId first seen alone is its own person until an email with no person claims it', () => {
    const people = new Identities()
    const alone = people.resolve(undefined, 'u1').person
    expect(alone).toEqual({ userId: 'u1' })
    const claimed = people.resolve('a@x.example', 'u1').person
    expect(claimed).toBe(alone)
    expect(claimed).toEqual({ userId: 'u1', email: 'a@x.example' })
    expect(people.resolve(undefined, 'u1').person).toBe(claimed)
  })

  it('an email seen with a second userId keeps its first; the second is a person of its own', () => {
    const people = new Identities()
    const first = people.resolve('a@x.example', 'u1').person
    const second = people.resolve('a@x.example', 'u2')
    expect(second.person).toBe(first)
    expect(second.problem).toBe('a@x.example holds userId u1; u2 is not bound to it (a contact keeps its first userId)')
    expect(people.resolve(undefined, 'u1').person).toBe(first)
    expect(people.resolve(undefined, 'u2').person).toEqual({ userId: 'u2' })
  })

  it('a userId seen with a new email stays with its first contact; the event goes to the email it names', () => {
    const people = new Identities()
    const c = people.resolve('c@x.example', 'c1').person
    const moved = people.resolve('d@x.example', 'c1')
    expect(moved.person).toEqual({ email: 'd@x.example' })
    expect(moved.problem).toBe('userId c1 is on c@x.example, not on d@x.example: pqlkit never merges contacts (merge them in HubSpot)')
    expect(people.resolve(undefined, 'c1').person).toBe(c)
  })

  it('a userId held by a HubSpot contact already is found there, never bound twice', () => {
    const people = new Identities()
    people.add({ id: '17', email: 'held@x.example', userId: 'u9' })
    expect(people.resolve(undefined, 'u9').person).toMatchObject({ id: '17' })
    const other = people.resolve('new@x.example', 'u9')
    expect(other.person).toEqual({ email: 'new@x.example' })
    expect(other.problem).toMatch(/^userId u9 is on held@x.example/)
  })

  it('an anonymous person never takes an email that has a person already: no merge', () => {
    const people = new Identities()
    const anonymous = people.resolve(undefined, 'u1').person
    const known = people.resolve('a@x.example', undefined).person
    const both = people.resolve('a@x.example', 'u1')
    expect(both.person).toBe(known)
    expect(anonymous.email).toBeUndefined()
    expect(both.problem).toMatch(/^userId u1 is on the contact known by that userId alone/)
  })
})
