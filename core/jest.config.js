module.exports = {
  displayName: 'core',
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/../jest.network-guard.js'],
  roots: ['<rootDir>/src'],
  transform: { '^.+\\.ts$': 'ts-jest' }
}
