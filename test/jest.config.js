module.exports = {
  displayName: 'test',
  testEnvironment: 'node',
  setupFiles: ['<rootDir>/../jest.network-guard.js'],
  roots: ['<rootDir>'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  transform: { '^.+\\.ts$': 'ts-jest' }
}
