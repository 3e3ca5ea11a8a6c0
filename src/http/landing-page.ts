// The page at `/`: the exporter's name and version, and links to what it serves.

export interface LandingPageOptions {
  telemetryPath: string;
  version: string;
  /** Links beside the metrics and health endpoints: [href, text]. */
  links?: [string, string][];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function landingPage(o: LandingPageOptions): string {
  const links: [string, string][] = [
    [o.telemetryPath, `Metrics (${o.telemetryPath})`],
    ...(o.links ?? []),
    ['/-/healthy', 'Health'],
    ['/-/ready', 'Readiness'],
  ];
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>netlink-exporter</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5}</style></head>
<body>
<h1>netlink-exporter</h1>
<p>Event-driven Prometheus exporter for Linux rtnetlink: interface flaps, address churn and route changes. Version ${escapeHtml(o.version)}.</p>
<ul>
${links.map(([href, text]) => `<li><a href="${escapeHtml(href)}">${escapeHtml(text)}</a></li>`).join('\n')}
</ul>
</body>
</html>
`;
}
