/** One `npm test` runs every package's jest project. */
module.exports = {
  projects: ['<rootDir>/core', '<rootDir>/destinations/segment', '<rootDir>/test']
}
