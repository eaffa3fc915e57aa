module.exports = {
  displayName: 'posthog',
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/../../jest.network-guard.js'],
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': 'ts-jest' }
}
