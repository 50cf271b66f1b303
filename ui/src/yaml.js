// A small YAML writer for showing manifests (read-only): block style, strings quoted when YAML would
// read them as something else, multi-line strings as `|` blocks. Not a parser; nothing reads it back.
const PLAIN = /^[A-Za-z_/.][\w ./@:{}-]*$/
const RESERVED = /^(true|false|null|yes|no|on|off|~|-?\d[\d_.eE+-]*)$/i

function scalar(v) {
  if (v === null || v === undefined) return 'null'
  if (typeof v === 'string') return PLAIN.test(v) && !RESERVED.test(v) && !/: |\s#|\s$/.test(v) ? v : JSON.stringify(v)
  return String(v)
}

function lines(v, indent, out) {
  const pad = ' '.repeat(indent)
  if (Array.isArray(v)) {
    if (v.length === 0) return void out.push(`${pad}[]`)
    for (const item of v) {
      if (item !== null && typeof item === 'object' && (Array.isArray(item) ? item.length : Object.keys(item).length)) {
        const sub = []
        lines(item, indent + 2, sub)
        out.push(`${pad}- ${sub[0].slice(indent + 2)}`, ...sub.slice(1))
      } else out.push(`${pad}- ${leaf(item, indent + 2)}`)
    }
    return
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v)
    if (keys.length === 0) return void out.push(`${pad}{}`)
    for (const k of keys) {
      const val = v[k]
      const key = scalar(k)
      if (val !== null && typeof val === 'object' && (Array.isArray(val) ? val.length : Object.keys(val).length)) {
        out.push(`${pad}${key}:`)
        lines(val, Array.isArray(val) ? indent : indent + 2, out)
      } else out.push(`${pad}${key}: ${leaf(val, indent + 2)}`)
    }
    return
  }
  out.push(pad + leaf(v, indent))
}

function leaf(v, indent) {
  if (Array.isArray(v)) return '[]'
  if (v !== null && typeof v === 'object') return '{}'
  if (typeof v === 'string' && v.includes('\n')) {
    const pad = ' '.repeat(indent)
    const body = v.replace(/\n$/, '').split('\n').map((l) => (l === '' ? '' : pad + l)).join('\n')
    return `|${v.endsWith('\n') ? '' : '-'}\n${body}`
  }
  return scalar(v)
}

export function toYaml(value) {
  const out = []
  lines(value, 0, out)
  return out.join('\n')
}
