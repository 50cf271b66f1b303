// Registry credentials (`secret.type: cloud-kernel-image-pull`): lint accepts exactly the two data
// shapes and names file, line and field of anything else, without ever quoting a value; the launch
// builds the Docker config JSON from either shape.
import { describe, expect, it } from 'vitest'
import { CtlError, formatIssue } from '../../src/errors.js'
import { lintSources } from '../../src/manifest/index.js'
import { dockerConfigJson, dockerConfigSecretValues, pullSecretProblems } from '../../src/manifest/pull-secret.js'
import { testContext, yaml } from './helpers.js'

const PASSWORD = 'pw-Kq7/+z'

function lint(text: string): string[] {
  return lintSources([{ file: 's.yaml', text }], testContext(), { interpolate: false, env: {} }).issues.map(formatIssue)
}

/** A pull secret whose `data:` mapping is given as YAML lines (indented 4). */
function pullSecret(data: string, extra = '', type = 'secret'): string {
  return `version: v1\nname: regcred\ntype: ${type}\n${type}:\n  type: cloud-kernel-image-pull\n${extra}  data:\n${data}`
}

describe('lint of cloud-kernel-image-pull secrets', () => {
  it('accepts registry, username and password (email optional), and a .dockerconfigjson with auths', () => {
    expect(lint(pullSecret(`    registry: registry.example.com\n    username: robot\n    password: "${PASSWORD}"\n`))).toEqual([])
    expect(lint(pullSecret(`    registry: ghcr.io\n    username: robot\n    password: x\n    email: robot@example.com\n`, '', 'instance-secret'))).toEqual([])
    const config = JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from(`robot:${PASSWORD}`).toString('base64') } } })
    expect(lint(pullSecret(`    .dockerconfigjson: '${config}'\n`))).toEqual([])
  })

  it('names file, line and field of an unknown, missing or empty field', () => {
    const issues = lint(pullSecret(`    registry: registry.example.com\n    user: robot\n    password: ""\n`))
    expect(issues).toEqual([
      's.yaml:6:3  a cloud-kernel-image-pull secret without .dockerconfigjson needs "username" (secret.data)',
      's.yaml:8:5  unknown field "user" of a cloud-kernel-image-pull secret; did you mean "username"? Expected either .dockerconfigjson (a Docker config JSON with an "auths" object) or registry, username and password (email optional) (secret.data.user)',
      's.yaml:9:5  "password" of a cloud-kernel-image-pull secret must not be empty (secret.data.password)',
    ])
  })

  it('refuses a .dockerconfigjson that is no JSON, has no auths object, or mixes with the other shape; never quoting it', () => {
    const broken = lint(pullSecret(`    .dockerconfigjson: '{"auths": {"r": {"password": "${PASSWORD}"}'\n`))
    expect(broken).toEqual(['s.yaml:7:5  .dockerconfigjson is not valid JSON (secret.data[".dockerconfigjson"])'])
    expect(broken.join('\n')).not.toContain(PASSWORD)
    expect(lint(pullSecret(`    .dockerconfigjson: '{"r": {"password": "x"}}'\n`))).toEqual([
      's.yaml:7:5  .dockerconfigjson must be a JSON object with an "auths" object (registry → credentials) (secret.data[".dockerconfigjson"])',
    ])
    expect(lint(pullSecret(`    .dockerconfigjson: '{"auths": {"r": "x"}}'\n`))).toEqual([
      's.yaml:7:5  .dockerconfigjson: auths["r"] must be an object such as {"auth": "<base64 of user:password>"} (secret.data[".dockerconfigjson"])',
    ])
    expect(lint(pullSecret(`    .dockerconfigjson: '{"auths": {"r": {}}}'\n    registry: r\n`))).toEqual([
      's.yaml:8:5  "registry" cannot be combined with .dockerconfigjson: give either .dockerconfigjson (a Docker config JSON with an "auths" object) or registry, username and password (email optional) (secret.data.registry)',
    ])
  })

  it('refuses no data at all and files', () => {
    const text = yaml`
      version: v1
      name: regcred
      type: secret
      secret:
        type: cloud-kernel-image-pull
        files:
          config.json: "{}"
      `
    expect(lint(text)).toEqual([
      's.yaml:4:1  a cloud-kernel-image-pull secret needs data: either .dockerconfigjson (a Docker config JSON with an "auths" object) or registry, username and password (email optional) (secret.data)',
      's.yaml:6:3  a cloud-kernel-image-pull secret takes its credentials under data, not files: give either .dockerconfigjson (a Docker config JSON with an "auths" object) or registry, username and password (email optional) (secret.files)',
    ])
  })

  it('leaves the data of other secret types alone', () => {
    expect(lint(pullSecret('    anything: goes\n').replace('cloud-kernel-image-pull', 'key-value'))).toEqual([])
  })
})

describe('the Docker config JSON', () => {
  it('is built from registry, username and password, with auth = base64(username:password)', () => {
    const json = dockerConfigJson({ registry: 'registry.example.com', username: 'robot', password: PASSWORD, email: 'r@example.com' }, 'secret "regcred"')
    expect(JSON.parse(json)).toEqual({
      auths: { 'registry.example.com': { username: 'robot', password: PASSWORD, email: 'r@example.com', auth: Buffer.from(`robot:${PASSWORD}`).toString('base64') } },
    })
  })

  it('is a given .dockerconfigjson as it is', () => {
    const given = '{"auths": {"ghcr.io": {"auth": "eDp5"}}}'
    expect(dockerConfigJson({ '.dockerconfigjson': given }, 'secret "regcred"')).toBe(given)
  })

  it('refuses data of another shape (stored before lint checked it) with E_SECRET, naming the secret and not the value', () => {
    let err: unknown
    try {
      dockerConfigJson({ token: PASSWORD }, 'image pull secret "regcred"')
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CtlError)
    expect((err as CtlError).code).toBe('E_SECRET')
    expect((err as CtlError).message).toMatch(/^image pull secret "regcred": unknown field "token"/)
    expect((err as CtlError).message).not.toContain(PASSWORD)
  })

  it('gives the password, auth and tokens (and the whole text) for redaction, not the username', () => {
    const json = dockerConfigJson({ registry: 'r.example.com', username: 'robot', password: PASSWORD }, 'x')
    const values = dockerConfigSecretValues(json)
    expect(values).toEqual(expect.arrayContaining([json, PASSWORD, Buffer.from(`robot:${PASSWORD}`).toString('base64')]))
    expect(values).not.toContain('robot')
    expect(dockerConfigSecretValues('{"auths": {"r": {"identitytoken": "id-tok", "registrytoken": "reg-tok"}}}')).toEqual(
      expect.arrayContaining(['id-tok', 'reg-tok']),
    )
    expect(pullSecretProblems({ data: { '.dockerconfigjson': json }, files: {} })).toEqual([])
  })
})
