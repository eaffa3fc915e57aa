/**
 * SPEC §2 identity, one set of rules for the online pipeline and the offline replay alike
 * (README "Identity"). A person is a HubSpot contact: known by email, or, before any email
 * is seen, by userId alone. Events are resolved one at a time in replay order (timestamp,
 * then messageId), so the outcome does not depend on where batches begin and end:
 *
 * 1. An event with an email belongs to that email's person.
 * 2. An event with only a userId belongs to the person that userId is bound to; a userId
 *    never seen before makes a person of its own (known by userId until an email claims it).
 * 3. A userId is bound to one person, and a person holds one userId (`pqlkit_user_id` is
 *    unique). An event with both binds the userId to the email's person when neither is
 *    bound yet. A person known by userId alone whose userId arrives with an email that has no
 *    person yet takes that email (the same contact, now with its email).
 * 4. A binding never moves: a userId bound to one person and seen with another email stays
 *    where it is, and a person keeps its first userId. pqlkit never merges two contacts; such
 *    an event is reported as a problem, never rejected.
 */

/** A contact as identity sees it. `id` is its HubSpot record id when the record exists. */
export type Person = { email?: string; userId?: string; id?: string }

export type Resolution = { person: Person; problem?: string }

/** The people known so far, by email and by userId: HubSpot's records before a batch, or the replay's contacts. */
export class Identities {
  private readonly byEmail = new Map<string, Person>()
  private readonly byUserId = new Map<string, Person>()

  /** A person already known (a record read from HubSpot). */
  add(person: Person): void {
    if (person.email !== undefined && !this.byEmail.has(person.email)) this.byEmail.set(person.email, person)
    if (person.userId !== undefined && !this.byUserId.has(person.userId)) this.byUserId.set(person.userId, person)
  }

  /** Resolves one event's identity (rules 1–4), recording any binding or claim it makes. */
  resolve(email: string | undefined, userId: string | undefined): Resolution {
    if (email === undefined) {
      let person = this.byUserId.get(userId!)
      if (!person) {
        person = { userId }
        this.byUserId.set(userId!, person)
      }
      return { person }
    }
    let person = this.byEmail.get(email)
    if (userId === undefined) {
      if (!person) {
        person = { email }
        this.byEmail.set(email, person)
      }
      return { person }
    }
    const bound = this.byUserId.get(userId)
    if (!person) {
      if (bound && bound.email === undefined) {
        bound.email = email
        this.byEmail.set(email, bound)
        return { person: bound }
      }
      person = { email }
      this.byEmail.set(email, person)
    }
    if (bound === undefined) {
      if (person.userId !== undefined) {
        return { person, problem: `${email} holds userId ${person.userId}; ${userId} is not bound to it (a contact keeps its first userId)` }
      }
      person.userId = userId
      this.byUserId.set(userId, person)
    }
    if (bound !== undefined && bound !== person) {
      const where = bound.email ?? `the contact known by that userId alone${bound.id ? ` (${bound.id})` : ''}`
      return {
        person,
        problem: `userId ${userId} is on ${where}, not on ${email}: pqlkit never merges contacts (merge them in HubSpot)`
      }
    }
    return { person }
  }
}
