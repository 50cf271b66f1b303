// Lint of failure handling (issue 12): `handles:` (only on a `runIf: anyFailed` step, naming its
// own dependencies), and `spec.finally` (steps checked like a DAG of their own, which depend only
// on one another: the DAG and the finally steps do not depend on each other). The engine's
// rules are in src/engine/rules.ts and src/engine/finally.ts.

import type { ManifestIssue } from '../errors.js'
import { issueAt } from './issues.js'
import { formatPath, type LoadedDocument, type StepModel, type WorkflowResource } from './model.js'
import { suggestionSuffix } from './suggest.js'

/**
 * Adds the issues of `wf`'s failure handling to `issues`. `checkAsDag` runs the DAG checks (names, depends,
 * cycles, stacks, templates, conditions) on a workflow; it is given one whose DAG is the finally steps, and
 * only its issues about those steps are kept (the workflow's own were reported already).
 */
export function checkFailureHandling(
  wf: WorkflowResource,
  doc: LoadedDocument,
  bodyKey: string,
  issues: ManifestIssue[],
  checkAsDag: (wf: WorkflowResource, issues: ManifestIssue[]) => void,
): void {
  const dependsKey = wf.meta.version === 'v1' ? 'dependencies' : 'depends'
  const dag = wf.workflow.dag
  const fin = wf.workflow.finally ?? []
  const dagNames = new Set(dag.map((s) => s.name))
  const finNames = new Set(fin.map((s) => s.name))
  for (const step of [...dag, ...fin]) checkHandles(step, doc, dependsKey, new Set(step.path[1] === 'finally' ? finNames : dagNames), issues)

  // The DAG's depends on a finally step: reported as an unknown step already; say why it cannot be.
  const finallyPrefix = `${bodyKey}.finally`
  for (const step of dag) {
    step.depends.forEach((dep, j) => {
      if (!finNames.has(dep)) return
      const path = formatPath([...step.path, dependsKey, j])
      const found = issues.find((i) => i.path === path && i.code === 'E_UNKNOWN_DEPENDENCY')
      if (found) found.message = `"${dep}" is a finally step: finally steps run after the whole DAG, so a DAG step cannot depend on one`
    })
  }
  if (fin.length === 0) return

  const own: ManifestIssue[] = []
  fin.forEach((step) => {
    const clash = dag.find((s) => s.name === step.name)
    if (clash) own.push(issueAt(doc, 'E_DUPLICATE_STEP', [...step.path, 'name'], `finally step "${step.name}" has the name of a DAG step (step names are unique across dag and finally)`))
    step.depends.forEach((dep, j) => {
      if (dagNames.has(dep) && !finNames.has(dep)) {
        own.push(issueAt(doc, 'E_UNKNOWN_DEPENDENCY', [...step.path, dependsKey, j], `finally step "${step.name}" cannot depend on DAG step "${dep}": finally steps run once the whole DAG ended (they depend only on other finally steps)`))
      }
    })
  })
  const reported = new Set(own.map((i) => `${i.path}|${i.code}`))
  const seen = new Set(issues.map((i) => `${i.path}|${i.code}|${i.message}`))
  const sub: ManifestIssue[] = []
  checkAsDag({ meta: wf.meta, workflow: { ...wf.workflow, dag: fin, finally: undefined, schedule: undefined } }, sub)
  for (const i of sub) {
    // Only issues of the finally steps, once each (the workflow-level checks ran on the real workflow).
    if (!i.path.startsWith(finallyPrefix) || reported.has(`${i.path}|${i.code}`) || seen.has(`${i.path}|${i.code}|${i.message}`)) continue
    // The sub-check names the list `dag`; these steps are under `finally`.
    issues.push({ ...i, message: i.message.replace(`(first at ${bodyKey}.dag[`, `(first at ${bodyKey}.finally[`) })
  }
  issues.push(...own)
}

/** `handles:` needs `runIf: anyFailed` and names known steps among the step's own dependencies. */
function checkHandles(step: StepModel, doc: LoadedDocument, dependsKey: string, known: ReadonlySet<string>, issues: ManifestIssue[]): void {
  if (!step.handles) return
  if (step.runIf !== 'anyFailed') {
    issues.push(issueAt(doc, 'E_TRIGGER_RULE', [...step.path, 'handles'], `step "${step.name}" has handles but runIf is ${step.runIf ?? 'allSucceeded (the default)'}: only a runIf: anyFailed step runs on a failure, so only it can handle one`))
  }
  step.handles.forEach((name, j) => {
    const path = [...step.path, 'handles', j]
    if (!known.has(name)) {
      issues.push(issueAt(doc, 'E_TRIGGER_RULE', path, `unknown step "${name}" in handles${suggestionSuffix(name, known)}`))
    } else if (!step.depends.includes(name)) {
      issues.push(issueAt(doc, 'E_TRIGGER_RULE', path, `step "${step.name}" handles "${name}", which is not one of its ${dependsKey}: a step can only handle the failure of a step it waits for (add "${name}" to ${dependsKey})`))
    }
  })
}
