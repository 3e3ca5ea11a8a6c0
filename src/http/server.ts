// The HTTP side: a landing page, the metrics, the health endpoints and the routes others add
// (the event API and page), over HTTP or HTTPS as the web config file says, behind basic auth
// when it lists users. Hardened the way an exporter on every host must be, against any client:
// one request at a time per connection, header, handshake and idle timeouts, bcrypt off the event
// loop with a bound, the web config's rate limit, a bounded scrape queue, authentication before
// anything about paths is said, exact paths only, GET and HEAD only, gzip when asked.
// This file is the server and its routing; the parts it uses are files of their own beside it.

import { createServer as createHttpServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket, Server as TlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { constants as zlibConstants, gzip } from 'node:zlib';
import { BasicAuth } from './basic-auth';
import { BcryptPool } from './bcrypt-pool';
import { ownConnectionCap } from './connection-limit';
import { ConnectionQueue } from './connection-queue';
import { landingPage } from './landing-page';
import { TokenBucket } from './rate-limit';
import { acceptsGzip, acceptsOpenMetrics, hasBody, requestPath } from './request';
import type { Route } from './route';
import { ScrapeGate } from './scrape-gate';
import type { HttpStats, RefusalReason } from './stats';
import { WatchedFiles } from './watched-files';
import {
  basicAuthSecrets,
  certificateSans,
  EMPTY_WEB_CONFIG,
  loadWebConfig,
  WebConfig,
  WebConfigError,
} from './web-config';
import type { Logger } from '../support/log';
import { setSecretGroup } from '../support/redact';
import { released } from '../runtime/memory';

const gzipAsync = promisify(gzip);

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
  /** Exporter-toolkit web config file ("" = plain HTTP, no auth). */
  webConfigFile: string;
  maxConcurrentScrapes: number;
  maxQueuedScrapes: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  /** Called after every attempt to re-read the web config (for the reload metrics). */
  onWebConfigReload?: (ok: boolean) => void;
}

/** Splits ":9932", "127.0.0.1:9932" or "[::1]:9932" into host (undefined = every address) and port. */
export function splitListenAddress(address: string): { host: string | undefined; port: number } {
  const at = address.lastIndexOf(':');
  let host = address.slice(0, at);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host: host === '' ? undefined : host, port: Number(address.slice(at + 1)) };
}

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

/** Requests a connection may have waiting behind the one being answered; past it the connection is cut. */
export const MAX_PIPELINED_REQUESTS = 16;
/** bcrypt checks waiting or running at once; past it a check is refused with 429. */
export const MAX_PENDING_PASSWORD_CHECKS = 8;

/**
 * The hashes in use stay secret after a reload attempt that failed (that attempt's values replace
 * the web config's "last read" group, not this one); a successful reload replaces them.
 */
function registerUsersInUse(web: WebConfig): void {
  setSecretGroup('web config in use', basicAuthSecrets(web.users.values()));
}

export class ExporterServer {
  private readonly server: Server;
  private readonly options: ServerOptions;
  private readonly gate: ScrapeGate;
  private web: WebConfig;
  private auth: BasicAuth;
  private rateLimit: TokenBucket | undefined;
  private readonly bcrypt: BcryptPool;
  private readonly queue: ConnectionQueue;
  private readonly refused: Record<RefusalReason, number> = {
    unauthorized: 0,
    rate_limited: 0,
    auth_busy: 0,
    pipelined: 0,
    tls_handshake: 0,
    connections: 0,
  };
  private readonly watched: WatchedFiles;

  /** Throws WebConfigError when the web config file is bad (fatal at start-up). */
  constructor(options: ServerOptions) {
    this.options = options;
    this.web = options.webConfigFile === '' ? EMPTY_WEB_CONFIG : loadWebConfig(options.webConfigFile);
    registerUsersInUse(this.web);
    this.watched = new WatchedFiles(
      () => this.reloadWebConfig(),
      (message, fields) => options.logger.warn(message, fields),
    );
    this.bcrypt = new BcryptPool(MAX_PENDING_PASSWORD_CHECKS, (err) =>
      options.logger.error('password check thread failed; checks in progress were refused', { error: err.message }),
    );
    this.auth = new BasicAuth(this.web.users, this.bcrypt);
    this.rateLimit = this.web.rateLimit && new TokenBucket(this.web.rateLimit);
    this.gate = new ScrapeGate(options.maxConcurrentScrapes, options.maxQueuedScrapes);
    this.queue = new ConnectionQueue(MAX_PIPELINED_REQUESTS, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        options.logger.error('request failed', { path: requestPath(req.url), error: err.message });
        if (!res.headersSent) res.writeHead(500, TEXT);
        res.end('internal error\n');
      });
    });
    const handler = (req: IncomingMessage, res: ServerResponse): void => this.queue.accept(req, res);
    // A slow client must not hold a connection: headers within header_timeout, then silence
    // for at most idle_timeout. Node checks the header deadline every connectionsCheckingInterval.
    const common = {
      headersTimeout: options.headerTimeoutMs,
      requestTimeout: options.headerTimeoutMs * 2,
      connectionsCheckingInterval: Math.min(1000, options.headerTimeoutMs),
      keepAliveTimeout: Math.min(5000, options.idleTimeoutMs),
    };
    const tls = this.web.tls;
    if (tls) {
      const policy = tls.clientAuth;
      // Node holds a TLS handshake for 120 s by default: a silent or trickling client would hold a
      // connection twelve times as long as on plain HTTP. The handshake gets the header timeout
      // (an absolute bound from the connection; bytes trickled into a ClientHello do not extend it),
      // then the request headers get it again.
      const httpsOptions = {
        ...common,
        ...tls.context,
        handshakeTimeout: options.headerTimeoutMs,
        requestCert: policy !== 'NoClientCert',
        rejectUnauthorized: policy === 'RequireAndVerifyClientCert',
      };
      try {
        this.server = createHttpsServer(httpsOptions, handler);
      } catch (err) {
        // loadWebConfig tried the same settings; should OpenSSL still refuse, say so as a config error.
        throw new WebConfigError(
          options.webConfigFile,
          'tls_server_config',
          `OpenSSL refuses these settings (${tls.files.join(', ')}): ${(err as Error).message}`,
        );
      }
      this.server.on('secureConnection', (socket: TLSSocket) => this.checkClientCertificate(socket));
      this.server.on('tlsClientError', (err: Error) => {
        this.refused.tls_handshake++;
        options.logger.debug('TLS handshake failed', { error: err.message });
      });
    } else {
      this.server = createHttpServer(common, handler);
    }
    this.server.setTimeout(options.idleTimeoutMs);
    // Past the cap Node closes a new connection at once ('drop'): counted, and the descriptors
    // the exporter needs for netlink stay free.
    const cap = ownConnectionCap();
    if (cap !== undefined) this.server.maxConnections = cap;
    this.server.on('drop', () => this.refused.connections++);
    // With no listener Node answers `Expect: 100-continue` with 100 Continue at once, before the
    // password is checked: an invitation to upload a body nobody reads. Handled here, the request
    // gets its answer (401, 405, ...) instead, and handle() closes the connection after it.
    this.server.on('checkContinue', handler);
    this.refreshWatches();
  }

  /** The client certificate policies that a handshake alone does not enforce. */
  private checkClientCertificate(socket: TLSSocket): void {
    const tls = this.web.tls;
    if (!tls) return;
    const cert = socket.getPeerCertificate();
    const present = cert !== null && Object.keys(cert).length > 0;
    let refuse: string | undefined;
    if (!present && (tls.clientAuth === 'RequireAnyClientCert' || tls.clientAuth === 'RequireAndVerifyClientCert'))
      refuse = 'no client certificate';
    else if (present && tls.clientAuth === 'VerifyClientCertIfGiven' && !socket.authorized)
      refuse = `client certificate not trusted: ${String(socket.authorizationError)}`;
    else if (
      present &&
      tls.clientAllowedSans.length > 0 &&
      !certificateSans(cert.subjectaltname).some((san) => tls.clientAllowedSans.includes(san))
    )
      refuse = 'client certificate has none of client_allowed_sans';
    if (refuse) {
      this.refused.tls_handshake++;
      this.options.logger.debug('refusing TLS connection', { reason: refuse, remote: socket.remoteAddress });
      socket.destroy();
    }
  }

  /** Counts for the netlink_http_* metrics. */
  stats(): HttpStats {
    return {
      requestsInFlight: this.queue.requestsInFlight,
      refused: { ...this.refused, pipelined: this.queue.pipelineRefusals },
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Every answer is what its Content-Type says; no browser may guess otherwise.
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // No path takes a body. Node reads and discards one to reach the next request on a keep-alive
    // connection: a client without the password streamed 3.5 GB a connection for the 20 s of the
    // request timeout. A connection whose request has a body is closed after the answer instead.
    if (hasBody(req)) res.setHeader('Connection', 'close');
    // As exporter-toolkit orders it: the rate limit before anything else, then the configured
    // headers, then the password, and only then anything about paths and methods, so a client
    // without the password learns nothing (not even which paths exist).
    if (this.rateLimit && !this.rateLimit.take()) {
      this.refused.rate_limited++;
      res.writeHead(429, { 'Retry-After': '1', ...TEXT }).end('too many requests\n');
      return;
    }
    for (const [name, value] of Object.entries(this.web.headers)) res.setHeader(name, value);
    if (this.auth.enabled) {
      const outcome = await this.auth.check(req.headers.authorization, req.socket.remoteAddress);
      if (outcome === 'busy') {
        this.refused.auth_busy++;
        res.writeHead(429, { 'Retry-After': '1', ...TEXT }).end('too many password checks waiting\n');
        return;
      }
      if (outcome !== 'ok') {
        this.refused.unauthorized++;
        res
          .writeHead(401, { 'WWW-Authenticate': 'Basic realm="netlink-exporter", charset="UTF-8"', ...TEXT })
          .end('unauthorized\n');
        return;
      }
    }
    const path = requestPath(req.url);
    const o = this.options;
    const route = path === undefined ? undefined : o.routes?.[path];
    const known =
      route !== undefined || path === o.telemetryPath || path === '/' || path === '/-/healthy' || path === '/-/ready';
    if (!known) {
      res.writeHead(404, TEXT).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', ...TEXT }).end('method not allowed\n');
      return;
    }
    if (route) {
      // A live stream stays open for as long as its reader wants: no idle timeout.
      if (route.streaming) req.socket.setTimeout(0);
      await route.handle(req, res);
      return;
    }
    if (path === o.telemetryPath) return this.scrape(req, res);
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(landingPage(o));
      return;
    }
    if (path === '/-/healthy') {
      res.writeHead(200, TEXT).end('OK\n');
      return;
    }
    const ready = o.isReady();
    res.writeHead(ready ? 200 : 503, TEXT).end(ready ? 'OK\n' : 'initial dump in progress\n');
  }

  private async scrape(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const o = this.options;
    const release = await this.gate.enter();
    if (!release) {
      res.writeHead(503, { 'Retry-After': '1', ...TEXT }).end('too many scrapes waiting\n');
      return;
    }
    try {
      if (res.destroyed) return;
      // Values are right from the first scrape: wait for the initial dump (bounded).
      if (!o.isReady()) await o.waitReady(o.scrapeReadyTimeoutMs);
      const { contentType, body } = await o.scrape({ openMetrics: acceptsOpenMetrics(req.headers.accept) });
      const length = body.reduce((sum, chunk) => sum + chunk.length, 0);
      const headers: Record<string, string | number> = { 'Content-Type': contentType, Vary: 'Accept, Accept-Encoding' };
      if (acceptsGzip(req.headers['accept-encoding'])) {
        // zlib runs on libuv's thread pool: the event loop (and the netlink path) goes on meanwhile.
        // Prometheus asks for gzip: at the default level 11 MB (5,000 interfaces) took 76 ms to
        // compress, at the fastest 17 ms for 18% more bytes (this text is very repetitive).
        const payload = await gzipAsync(Buffer.concat(body, length), { level: zlibConstants.Z_BEST_SPEED });
        headers['Content-Encoding'] = 'gzip';
        headers['Content-Length'] = payload.length;
        res.writeHead(200, headers);
        res.end(req.method === 'HEAD' ? undefined : payload);
        released(length);
        return;
      }
      headers['Content-Length'] = length;
      res.writeHead(200, headers);
      // The chunks are mostly the collectors' ready buffers (about 1,100 for 5,000 interfaces):
      // written as they are, corked into one writev. Joining them first cost a fresh copy of the
      // whole text (11 MB) per scrape, and releasing that forced a full collection every other scrape.
      if (req.method !== 'HEAD') {
        res.cork();
        for (const chunk of body) res.write(chunk);
      }
      res.end();
    } finally {
      release();
    }
  }

  /** Re-reads the web config when its file, or a certificate, key or CA file it names, changes. */
  private refreshWatches(): void {
    const file = this.options.webConfigFile;
    if (file !== '') this.watched.watch([file, ...(this.web.tls?.files ?? [])]);
  }

  /**
   * Re-reads the web config file; a bad one (a half-written file, step one of a certificate and
   * key rotation) keeps the current settings, logs why naming the files, and reports false.
   * Never throws: it runs from a file watch and from SIGHUP, and a routine rotation must not stop the process.
   */
  reloadWebConfig(): boolean {
    const file = this.options.webConfigFile;
    if (file === '') return true;
    try {
      this.applyWebConfig(file);
    } catch (err) {
      this.options.logger.error('web config not reloaded; keeping the previous one', { error: (err as Error).message });
      this.options.onWebConfigReload?.(false);
      return false;
    }
    this.options.onWebConfigReload?.(true);
    return true;
  }

  private applyWebConfig(file: string): void {
    const next = loadWebConfig(file);
    if (Boolean(next.tls) !== Boolean(this.web.tls)) {
      throw new Error(
        `${file}: switching between ${this.web.tls ? 'HTTPS and HTTP' : 'HTTP and HTTPS'} needs a restart`,
      );
    }
    if (next.tls) {
      const server = this.server as unknown as TlsServer & { requestCert: boolean; rejectUnauthorized: boolean };
      try {
        server.setSecureContext(next.tls.context);
      } catch (err) {
        throw new WebConfigError(
          file,
          'tls_server_config',
          `OpenSSL refuses these settings (${next.tls.files.join(', ')}): ${(err as Error).message}`,
        );
      }
      // Node reads these two per new connection (tls_wrap): the new policy applies to the next handshake.
      server.requestCert = next.tls.clientAuth !== 'NoClientCert';
      server.rejectUnauthorized = next.tls.clientAuth === 'RequireAndVerifyClientCert';
    }
    this.web = next;
    registerUsersInUse(next);
    this.auth = new BasicAuth(next.users, this.bcrypt);
    // An unchanged limit keeps its bucket: a fresh one would hand out a new burst on every reload.
    if (!next.rateLimit) this.rateLimit = undefined;
    else if (
      !this.rateLimit ||
      this.rateLimit.settings.intervalMs !== next.rateLimit.intervalMs ||
      this.rateLimit.settings.burst !== next.rateLimit.burst
    )
      this.rateLimit = new TokenBucket(next.rateLimit);
    this.refreshWatches();
    this.options.logger.info('web config reloaded', {
      file,
      tls: Boolean(next.tls),
      users: next.users.size,
      rate_limit: Boolean(next.rateLimit),
    });
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

  /**
   * Stops accepting, lets scrapes in flight finish (up to `graceMs`), then cuts what is left
   * (live streams, slow readers). Resolves when every connection is gone.
   */
  close(graceMs = 5000): Promise<void> {
    this.watched.close();
    return new Promise((resolve) => {
      this.server.close(() => {
        this.bcrypt.close();
        resolve();
      });
      this.server.closeIdleConnections();
      const deadline = setTimeout(() => this.server.closeAllConnections(), graceMs);
      deadline.unref();
      // Responses that finish now leave keep-alive connections behind: close those as they go idle.
      for (const res of this.queue.currentResponses()) res.once('finish', () => (res.socket as Socket | null)?.end());
    });
  }
}
