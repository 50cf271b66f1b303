// What every verb that talks to a control plane needs: a connection and the
// workspace to act in. Resolved once, in `complete`, never inside `run` logic.
import { join } from 'node:path'
import { connect, type Connection } from '../connect.js'
import type { Io } from '../io.js'
import type { ResourceRef } from '../../api/types.js'
import { INSTANCE_LEVEL_TYPES } from '../../manifest/model.js'

export interface SessionFlags {
  context?: string
  workspace?: string
}

export interface Session extends Connection {
  /** `-w`, else the context's default workspace. */
  workspace: string
}

/** A resource of this session: in its workspace, or at instance level for instance-level types. */
export function refOf(session: Session, type: string, name: string): ResourceRef {
  return { type, name, workspace: (INSTANCE_LEVEL_TYPES as readonly string[]).includes(type) ? null : session.workspace }
}

export async function openSession(flags: SessionFlags, io: Io, cliRoot: string, env: NodeJS.ProcessEnv = process.env): Promise<Session> {
  const connection = await connect({ context: flags.context, env, io, cliEntry: join(cliRoot, 'bin', 'run.js') })
  return { ...connection, workspace: flags.workspace ?? connection.workspace }
}
