/**
 * One `npm test` runs every package's jest project. `forceExit`: a test that fails or times
 * out while a host process or server of its own is still running must end the run red, not
 * leave jest waiting on those handles until CI's time runs out.
 */
module.exports = {
  projects: ['<rootDir>/core', '<rootDir>/destinations/segment', '<rootDir>/destinations/rudderstack', '<rootDir>/plugins/posthog', '<rootDir>/test'],
  forceExit: true
}
