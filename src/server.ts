// The HTTP side: a landing page, the metrics, and the health endpoints, on plain node:http.

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './log';
import { released } from './state/memory';

/** A path served beside the metrics (the event API and page). */
export interface Route {
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** A long-lived stream (Server-Sent Events): exempt from request timeouts and compression. */
  streaming?: boolean;
}

export interface ScrapeRequest {
  /** The scraper asked for OpenMetrics (Accept: application/openmetrics-text): exemplars allowed. */
  openMetrics: boolean;
}

export interface ServerOptions {
  listenAddress: string;
  telemetryPath: string;
  version: string;
  logger: Logger;
  /** Resolves once every namespace's initial dump is in. */
  isReady: () => boolean;
  /** Waits for readiness up to `ms`; resolves either way. */
  waitReady: (ms: number) => Promise<void>;
  scrapeReadyTimeoutMs: number;
  /** The exposition, as chunks written in order, and its content type. */
  scrape: (request: ScrapeRequest) => Promise<{ contentType: string; body: Buffer[] }>;
  /** Further paths, by exact path. */
  routes?: Record<string, Route>;
  /** Links for the landing page: [href, text]. */
  links?: [string, string][];
}

/** Whether the Accept header prefers OpenMetrics, as Prometheus sends it when it wants exemplars. */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && /application\/openmetrics-text/i.test(accept);
}

/** Splits ":9932", "127.0.0.1:9932" or "[::1]:9932" into host (undefined = every address) and port. */
export function splitListenAddress(address: string): { host: string | undefined; port: number } {
  const at = address.lastIndexOf(':');
  let host = address.slice(0, at);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? undefined : host, port: Number(address.slice(at + 1)) };
}

function landingPage(o: ServerOptions): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>netlink-exporter</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}code{background:#f3f3f3;padding:0 .2rem}</style></head>
<body>
<h1>netlink-exporter</h1>
<p>Event-driven Prometheus exporter for Linux rtnetlink: interface flaps, address churn and route changes. Version ${o.version}.</p>
<ul>
<li><a href="${o.telemetryPath}">Metrics</a> (<code>${o.telemetryPath}</code>)</li>
${(o.links ?? []).map(([href, text]) => `<li><a href="${href}">${text}</a></li>\n`).join('')}<li><a href="/-/healthy">Health</a> and <a href="/-/ready">readiness</a></li>
</ul>
</body>
</html>
`;
}

export class ExporterServer {
  private readonly server: Server;
  private readonly options: ServerOptions;

  constructor(options: ServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        options.logger.error('request failed', { path: req.url, error: err.message });
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`internal error: ${err.message}\n`);
      });
    });
    // A scrape must never hang a connection forever.
    this.server.requestTimeout = 60_000;
    this.server.headersTimeout = 30_000;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const o = this.options;
    if (path === o.telemetryPath) {
      // Values are right from the first scrape: wait for the initial dump (bounded).
      if (!o.isReady()) await o.waitReady(o.scrapeReadyTimeoutMs);
      const { contentType, body } = await o.scrape({ openMetrics: acceptsOpenMetrics(req.headers.accept) });
      const length = body.reduce((sum, chunk) => sum + chunk.length, 0);
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': length });
      // One copy into one buffer beats a write per chunk (tens of thousands of interfaces' lines).
      res.end(req.method === 'HEAD' ? undefined : Buffer.concat(body, length));
      released(length);
      return;
    }
    const route = o.routes?.[path];
    if (route) {
      await route.handle(req, res);
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(landingPage(o));
      return;
    }
    if (path === '/-/healthy') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('OK\n');
      return;
    }
    if (path === '/-/ready') {
      const ready = o.isReady();
      res.writeHead(ready ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' }).end(ready ? 'OK\n' : 'initial dump in progress\n');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
  }

  /** Listens; resolves with the address actually bound (port 0 picks a free one). */
  listen(): Promise<string> {
    const { host, port } = splitListenAddress(this.options.listenAddress);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        resolve(a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}
