// nginx with Debian's libnginx-mod-rtmp as the baseline recorder: a generated config (one worker, `record all` to FLV)
// and a launcher that runs nginx in the foreground under a prefix in bench/out, stopped by PID.
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type ServerProcess, spawnServer, stopServer, waitForPort } from "./server-process.ts"

const MODULE_CANDIDATES = [
  "/usr/lib/nginx/modules/ngx_rtmp_module.so",
  "/usr/share/nginx/modules/ngx_rtmp_module.so",
  "/usr/lib64/nginx/modules/ngx_rtmp_module.so"
]
const NGINX = "/usr/sbin/nginx"

/** Why nginx-rtmp cannot run here, or undefined when it can. */
export const nginxRtmpMissing = (): string | undefined => {
  if (!existsSync(NGINX)) return `${NGINX} not installed`
  if (rtmpModulePath() === undefined) return `ngx_rtmp_module.so not found in ${MODULE_CANDIDATES.join(", ")}`
  return undefined
}

export const rtmpModulePath = (): string | undefined => MODULE_CANDIDATES.find((path) => existsSync(path))

export interface NginxRtmpOptions {
  /** nginx's -p prefix; config, pid file and logs go here. */
  readonly prefix: string
  readonly port: number
  readonly recordDir: string
}

// One worker, as the server under comparison is one Node process. `record all` writes audio and video to
// <record_path>/<stream>.flv; record_unique off keeps that name. Started as root, nginx would switch its worker to
// "nobody", which cannot write our directories, so the worker keeps root's identity then.
export const nginxRtmpConfig = (o: NginxRtmpOptions, modulePath: string): string => `
load_module ${modulePath};
${process.getuid?.() === 0 ? "user root root;" : ""}
daemon off;
master_process on;
worker_processes 1;
pid ${join(o.prefix, "nginx.pid")};
error_log ${join(o.prefix, "error.log")} info;
events { worker_connections 1024; }
rtmp {
  server {
    listen 127.0.0.1:${o.port};
    chunk_size 4096;
    application live {
      live on;
      record all;
      record_path ${o.recordDir};
      record_unique off;
    }
  }
}
`

export interface NginxRtmp {
  readonly process: ServerProcess
  readonly stop: () => Promise<void>
}

export const startNginxRtmp = async (o: NginxRtmpOptions): Promise<NginxRtmp> => {
  const modulePath = rtmpModulePath()
  if (modulePath === undefined) throw new Error(nginxRtmpMissing())
  mkdirSync(o.prefix, { recursive: true })
  mkdirSync(o.recordDir, { recursive: true })
  const conf = join(o.prefix, "nginx.conf")
  writeFileSync(conf, nginxRtmpConfig(o, modulePath))
  // -e sends the errors logged before the config is read to our log instead of /var/log/nginx.
  const server = spawnServer(NGINX, ["-p", o.prefix, "-c", conf, "-e", join(o.prefix, "error.log")], {
    cwd: o.prefix,
    logPath: join(o.prefix, "nginx.out.log")
  })
  try {
    await waitForPort(server, "127.0.0.1", o.port)
  } catch (error) {
    await stopServer(server)
    throw error
  }
  return {
    process: server,
    stop: async () => {
      // SIGQUIT: graceful shutdown, so that the worker closes its recordings before it exits.
      await stopServer(server, "SIGQUIT")
    }
  }
}
