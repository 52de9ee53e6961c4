// Docker HEALTHCHECK probe: exits 0 when /readyz answers 200 (the image has node but no curl).
export {};

const port = process.env.PORT || '8080';
try {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2500) });
  process.exit(response.status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
