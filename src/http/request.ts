// What the server reads off a request before it answers: the exact path, whether a body
// follows, and which exposition format and encoding the client takes.

import type { IncomingMessage } from 'node:http';

/**
 * The path of a request target, compared exactly: "//x/metrics" is not "/metrics" (a URL parser
 * would read "x" as a host), and the absolute form, "*" or anything not starting with "/" is no path we serve.
 */
export function requestPath(target: string | undefined): string | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  const end = target.search(/[?#]/);
  return end < 0 ? target : target.slice(0, end);
}

/** Whether a request says a body follows (Content-Length above 0, or any Transfer-Encoding). */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Whether the Accept header prefers OpenMetrics, as Prometheus sends it when it wants exemplars. */
export function acceptsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && /application\/openmetrics-text/i.test(accept);
}

/** Whether the client takes gzip (Accept-Encoding: gzip, not gzip;q=0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  return acceptEncoding.split(',').some((part) => {
    const [coding, ...params] = part.trim().split(';');
    if (coding?.trim().toLowerCase() !== 'gzip') return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}
