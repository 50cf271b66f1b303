// The `yaml` package is ~70 CommonJS files. Most commands never touch YAML
// (no config file yet, table output), so it is loaded on first use only:
// every command pays for its own start-up, not for what others need.
export { yaml } from '../lazy-module.js'
