/**
 * Requests to the omega REST API at `{base_url}omega/api/v1/…`, always through
 * `ServerConnection` so Jupyter's auth, XSRF and any base_url (JupyterHub prefixes) apply.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export const API_PATH = 'omega/api/v1';

/** An error answered by the server (or the network), with the server's own message. */
export class OmegaApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string
  ) {
    super(message);
    this.name = 'OmegaApiError';
  }

  /** True when the omega server extension is not there at all (no JSON 404 of ours). */
  get serverMissing(): boolean {
    return this.code === 'server_extension_missing';
  }
}

/** Encode an object name as a URL path, keeping its folders (`a/b c` → `a/b%20c`). */
export function encodeName(name: string): string {
  return name
    .split('/')
    .map(part => encodeURIComponent(part))
    .join('/');
}

/** A query string from the defined values of `params` (empty string when none). */
export function queryString(
  params: Record<string, string | number | boolean | undefined | null>
): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * Call the API and return its parsed JSON body. The status is checked before the body is
 * parsed: an HTML 404 page (server extension not installed) becomes a clear error instead
 * of a JSON syntax error.
 */
export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_PATH, path);
  // 'no-cache' revalidates every GET against tornado's ETags (an unchanged answer comes back
  // as a bodiless 304) instead of ServerConnection's default 'no-store', which appends a
  // timestamp to the URL and always refetches. The server ignores that timestamp either way.
  const request = { cache: 'no-cache' as RequestCache, ...init };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, request, settings);
  } catch (error) {
    throw new OmegaApiError(
      `cannot reach the Jupyter server: ${(error as Error).message ?? error}`,
      0,
      'network_error'
    );
  }
  const text = await response.text();
  if (!response.ok) {
    throw errorFromResponse(response.status, text);
  }
  if (!text) {
    return {} as T;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new OmegaApiError(
      `the server answered ${path} with something that is not JSON`,
      response.status,
      'bad_response'
    );
  }
}

/**
 * What the panel says for the server's 5xx error codes: what is wrong and that it passes.
 * The server's own message follows when it tells more than its generic 5xx text.
 */
export const UNAVAILABLE: Record<string, string> = {
  database_unavailable: 'The omega database is unavailable',
  runtime_unavailable: 'The omega runtime (its Dask cluster) is unavailable',
  schema_outdated: "The omega database's schema is older than this omega_jupyter"
};

/** Server messages that add nothing to the panel's own text (a 503 says where to look). */
function isGeneric5xx(message: string): boolean {
  return message === 'internal server error' || /the server log says why/.test(message);
}

/** The error for a non-2xx answer: the server's `{error, message}` when it sent one. */
export function errorFromResponse(status: number, text: string): OmegaApiError {
  let body: { error?: string; message?: string } | null = null;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (an HTML error page, plain text): described by the status below.
  }
  if (body && typeof body === 'object' && body.message) {
    const code = body.error ?? 'error';
    const hint = status >= 500 ? UNAVAILABLE[code] : undefined;
    if (hint) {
      const detail = isGeneric5xx(body.message) ? '' : ` (${body.message})`;
      return new OmegaApiError(`${hint}${detail}.`, status, code);
    }
    return new OmegaApiError(body.message, status, code);
  }
  if (status === 404) {
    return new OmegaApiError(
      'The omega_jupyter server extension is not enabled in this Jupyter server. ' +
        'Install omega_jupyter in the environment that runs Jupyter ' +
        '(pip install omega_jupyter) and restart it; ' +
        '"jupyter server extension list" should show omega_jupyter OK.',
      status,
      'server_extension_missing'
    );
  }
  const reason = text && text.length < 200 ? `: ${text}` : '';
  return new OmegaApiError(`the server answered ${status}${reason}`, status, 'http_error');
}
