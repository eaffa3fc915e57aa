/** One `npm test` runs every package's jest project. */
module.exports = {
  projects: ['<rootDir>/core', '<rootDir>/destinations/segment', '<rootDir>/destinations/rudderstack', '<rootDir>/plugins/posthog', '<rootDir>/test']
}
