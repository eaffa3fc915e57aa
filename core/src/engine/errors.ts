/**
 * The core's error vocabulary (STYLE §5). Each host maps these once to its own classes.
 * Messages never contain tokens or webhook URLs.
 */

/** Bad input: not retryable. Names the field and what is wrong with its value. */
export class ValidationError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string
  ) {
    super(`${field}: ${problem}`)
    this.name = 'ValidationError'
  }
}

/** A transient failure: the same input may succeed later, after `retryAfterMs`. `throttled`: a rate limit, not an outage. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
    readonly throttled = false
  ) {
    super(message)
    this.name = 'RetryableError'
  }
}
