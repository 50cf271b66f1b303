// CEL for workflows (`when`, `forEach.items`) through @bufbuild/cel: checked at lint, evaluated by the engine.
export type { ExprExpect, ExprProblem, ExprScope, ExprStepVars, ExprVars, WebhookVars } from './types.js'
export { checkExpression, WORKFLOW_FIELDS } from './check.js'
export { evaluateCondition, evaluateItems, evaluateValue, plainValue } from './evaluate.js'
export { EXPR_MAX_LENGTH } from './env.js'
