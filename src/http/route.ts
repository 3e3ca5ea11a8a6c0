// A path served beside the metrics: the server routes to it by exact path, and the event routes
// (event-routes.ts) are the ones main.ts gives it.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** A path served beside the metrics (the event API and page). */
export interface Route {
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** A long-lived stream (Server-Sent Events): exempt from the idle timeout and from compression. */
  streaming?: boolean;
}
