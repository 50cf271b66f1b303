// Run parameters, pure: declarations (lint), resolution at run start, the CLI's text form, redaction.
import { describe, expect, it } from 'vitest'
import { checkParamDeclarations, coerceParamText, resolveParams, secretParamValues } from '../../src/manifest/params.js'
import type { ParamSpec } from '../../src/manifest/model.js'

const p = (name: string, type: ParamSpec['type'], extra: Partial<ParamSpec> = {}): ParamSpec => ({ name, type, required: false, ...extra })
const decls: ParamSpec[] = [
  p('environment', 'string', { enum: ['staging', 'production'], default: 'staging' }),
  p('version', 'string', { required: true, description: 'the release' }),
  p('regions', 'array', { default: ['eu', 'us'] }),
  p('replicas', 'integer', { default: 2 }),
  p('ratio', 'number'),
  p('token', 'string', { secret: true }),
]

describe('checkParamDeclarations', () => {
  it('the issue example is clean', () => {
    expect(checkParamDeclarations(decls)).toEqual([])
  })

  it('defaults and enum values of the wrong type, defaults outside the enum, required with a default', () => {
    expect(
      checkParamDeclarations([
        p('a', 'integer', { default: 1.5 }),
        p('b', 'string', { enum: ['x', 2] }),
        p('c', 'string', { enum: ['x', 'y'], default: 'z' }),
        p('d', 'boolean', { required: true, default: false }),
        p('e', 'object', { default: [] }),
      ]),
    ).toEqual([
      { index: 0, field: 'default', message: 'the default of param "a" must be an integer; it is 1.5' },
      { index: 1, field: 'enum', message: 'param "b" is a string; its enum holds 2' },
      { index: 2, field: 'default', message: 'the default of param "c" is "z", not one of its enum: "x", "y"' },
      { index: 3, field: 'required', message: 'param "d" is required and has a default; a default makes it optional: drop one of the two' },
      { index: 4, field: 'default', message: 'the default of param "e" must be an object; it is []' },
    ])
  })

  it('names: identifiers, no CEL reserved word, unique, bounded count', () => {
    expect(checkParamDeclarations([p('__proto__', 'string')])).toEqual([{ index: 0, field: 'name', message: 'param name "__proto__" starts with "__", which is reserved' }])
    expect(checkParamDeclarations([p('my-param', 'string'), p('in', 'string'), p('x', 'string'), p('x', 'integer')])).toEqual([
      { index: 0, field: 'name', message: 'param name "my-param" must be an identifier (letters, digits and _, not starting with a digit, at most 63 characters)' },
      { index: 1, field: 'name', message: 'param name "in" is a reserved word of CEL (conditions could not name it)' },
      { index: 3, field: 'name', message: 'param "x" is declared twice' },
    ])
    const many = Array.from({ length: 101 }, (_, i) => p(`p${i}`, 'string'))
    expect(checkParamDeclarations(many)).toEqual([{ index: 100, message: 'the workflow declares 101 params; at most 100 are allowed' }])
  })
})

describe('resolveParams', () => {
  it('applies defaults and keeps the given values', () => {
    expect(resolveParams(decls, { version: '1.2.3', environment: 'production' })).toEqual({
      environment: 'production',
      version: '1.2.3',
      regions: ['eu', 'us'],
      replicas: 2,
    })
  })

  it('a default is a copy: a run cannot change the declaration', () => {
    const r = resolveParams(decls, { version: '1' })
    ;(r['regions'] as string[]).push('ap')
    expect(decls[2]!.default).toEqual(['eu', 'us'])
  })

  it('names every param at fault in one E_PARAMS', () => {
    expect(() => resolveParams(decls, { enviroment: 'x', replicas: 2.5, ratio: '1' })).toThrow(
      expect.objectContaining({
        code: 'E_PARAMS',
        message:
          'unknown param "enviroment"; did you mean "environment"? (declared: environment, version, regions, replicas, ratio, token); ' +
          'param "version" is required (the release); give it with --param version=…; param "replicas" must be an integer; got 2.5; ' +
          'param "ratio" must be a number; got "1"',
      }),
    )
    expect(() => resolveParams(decls, { version: '1', environment: 'prod' })).toThrow(
      expect.objectContaining({ code: 'E_PARAMS', message: 'param "environment" must be one of "staging", "production"; got "prod"' }),
    )
    expect(() => resolveParams(undefined, { x: 1 })).toThrow(expect.objectContaining({ code: 'E_PARAMS', message: 'unknown param "x": the workflow declares no params' }))
    expect(resolveParams(undefined, {})).toEqual({})
  })
})

describe('coerceParamText', () => {
  it('types the text by the declaration, strictly', () => {
    expect(coerceParamText(p('n', 'integer'), '42')).toBe(42)
    expect(coerceParamText(p('n', 'integer'), '-7')).toBe(-7)
    expect(coerceParamText(p('x', 'number'), '1.5e3')).toBe(1500)
    expect(coerceParamText(p('b', 'boolean'), 'true')).toBe(true)
    expect(coerceParamText(p('a', 'array'), '["eu","us"]')).toEqual(['eu', 'us'])
    expect(coerceParamText(p('o', 'object'), '{"k":1}')).toEqual({ k: 1 })
    expect(coerceParamText(p('s', 'string'), '007')).toBe('007')
    expect(coerceParamText(undefined, '12')).toBe('12')
    for (const [decl, text, message] of [
      [p('n', 'integer'), '4.0', 'param "n" must be an integer; got "4.0"'],
      [p('n', 'integer'), '99999999999999999999', 'param "n" must be an integer; got "99999999999999999999"'],
      [p('x', 'number'), '0x10', 'param "x" must be a number; got "0x10"'],
      [p('x', 'number'), '', 'param "x" must be a number; got ""'],
      [p('b', 'boolean'), 'yes', 'param "b" must be true or false; got "yes"'],
      [p('a', 'array'), '{"k":1}', 'param "a" must be an array in JSON; got "{\\"k\\":1}"'],
      [p('o', 'object'), 'nope', 'param "o" must be an object in JSON; got "nope"'],
    ] as const) {
      expect(() => coerceParamText(decl, text)).toThrow(expect.objectContaining({ code: 'E_PARAMS', message }))
    }
  })
})

describe('a secret param in a refusal', () => {
  it('is never quoted: the message says what kind of value came, not the value', () => {
    const secret = [p('token', 'integer', { secret: true }), p('mode', 'string', { secret: true, enum: ['a', 'b'] })]
    for (const [given, want] of [
      [{ token: 'hunter2-value' }, 'param "token" must be an integer; got a string (not shown: the param is secret)'],
      [{ token: 1, mode: 'hunter2-value' }, 'param "mode" must be one of its enum; got a string (not shown: the param is secret)'],
    ] as const) {
      let message = ''
      try {
        resolveParams(secret, given)
      } catch (e) {
        message = (e as Error).message
      }
      expect(message).toContain(want)
      expect(message).not.toContain('hunter2')
    }
  })
})

describe('secretParamValues', () => {
  it('the string forms of secret params only', () => {
    const secretDecls = [...decls, p('keys', 'array', { secret: true })]
    expect(secretParamValues(secretDecls, { version: '1', token: 's3cr3t', keys: ['k1', 'k2'] }).sort()).toEqual(['["k1","k2"]', 'k1', 'k2', 's3cr3t'])
    expect(secretParamValues(secretDecls, { version: '1', token: '' })).toEqual([])
    expect(secretParamValues(undefined, { token: 'x' })).toEqual([])
  })
})
