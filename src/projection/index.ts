export * from './check.js'
export * from './render.js'
export * from './secrets.js'
