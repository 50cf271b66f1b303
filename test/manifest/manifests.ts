// Valid manifests of every type, as YAML text, for the manifest tests.
import { yaml } from './helpers.js'

export const workflowV2 = yaml`
  version: v2alpha
  name: customer-batch
  type: workflow
  tags: [batch]
  description: Extract, validate, publish
  spec:
    type: instance
    title: Customer batch
    parallelism: 2
    schedule:
      crons: ['*/30 * * * *']
      timezone: Europe/Berlin
      concurrencyPolicy: Forbid
      endOn: '2030-12-31T23:59:59Z'
    use:
      projection:
        secrets:
          - id: workflow-secret
            contextAlias: app
        projections:
          envVars:
            - key: RUN_ID
              value: '{{.defaultProjections.dataOsRunId}}'
    dag:
      - name: extract
        title: Extract source data
        retry: {count: 2, strategy: OnError, duration: 10s, factor: 2}
        timeout: 1h30m
        spec:
          compute: runnable-default
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {cpu: 1, memory: 512Mi}
          runAsUser: 1000
          envs: {MODE: full, RETRIES: 3}
          logLevel: INFO
          use:
            volumes:
              - id: shared
                directory: /workspace
            projection:
              secrets:
                - id: db-secret
                  contextAlias: db
              projections:
                envVars:
                  - key: DB_URL
                    value: 'postgresql://{{.secrets.db.username}}@{{.secrets.db.host}}/app'
                files:
                  - name: token.txt
                    value: '{{.secrets.app.API_TOKEN}}'
                arguments: ['--run={{.defaultProjections.dataOsRunId}}']
          stack: container:1.0
          stackSpec:
            image: docker.io/library/alpine:3.20
            command: [sh]
            arguments: [-c, echo extract]
      - name: validate
        depends: [extract]
        activeDeadlineSeconds: 600
        spec:
          stack: container
          stackSpec:
            image: docker.io/library/alpine:3.20
  `

export const secret = yaml`
  version: v1
  name: db-secret
  type: secret
  secret:
    type: key-value-properties
    acl: rw
    data:
      username: app
      password: s3cret
    files:
      ca.crt: /etc/ssl/ca.crt
  `

export const instanceSecret = yaml`
  version: v1
  name: registry-pull
  type: instance-secret
  layer: system
  instance-secret:
    type: cloud-kernel-image-pull
    data: {registry: registry.example.com, username: robot, password: abc}
  `

export const volume = yaml`
  version: v1beta
  name: shared
  type: volume
  volume:
    size: 1Gi
    accessMode: ReadWriteMany
    type: temp
    storageClass: standard
  `

export const compute = yaml`
  version: v1beta
  name: gpu-pool
  type: compute
  compute:
    purpose: gpu
    nodePool:
      nodeSelector: {pool: gpu}
      tolerations:
        - {key: gpu, operator: Exists, effect: NoSchedule}
  `

export const stack = yaml`
  version: v1alpha
  name: shell-v1
  type: stack
  stack:
    name: shell
    version: '1.0'
    flavor: shell
    image: {registry: docker.io, repository: library, image: alpine, tag: '3.20'}
    command: [sh, -c]
    arguments: []
    environmentVars: {LANG: C.UTF-8}
    stackSpecValueSchema:
      jsonSchema:
        type: object
        additionalProperties: false
        properties:
          script: {type: string}
        required: [script]
    workflowJobConfig:
      containerResourceTemplate: 'args: [{{ quote .ApplicationSpec.StackSpec.script }}]'
      configFileTemplate:
        run.sh: '{{.ApplicationSpec.StackSpec.script}}'
  `
