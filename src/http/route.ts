// What a room above the server adds to it: a path and its handler (the event API and page).

import type { IncomingMessage, ServerResponse } from 'node:http';

/** A path served beside the metrics (the event API and page). */
export interface Route {
  handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** A long-lived stream (Server-Sent Events): exempt from the idle timeout and from compression. */
  streaming?: boolean;
}
