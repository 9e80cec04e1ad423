/**
 * A ServerConnection whose fetch answers from a function: the jest tests check the requests
 * the panel makes (method, URL under the base_url, body) and how it reads the answers.
 */
import { ServerConnection } from '@jupyterlab/services';

export type Answer = { status: number; body: string };

export interface ICall {
  method: string;
  url: string;
  body: string | null;
}

export type Route = (method: string, url: string, body: string | null) => Answer;

/** A JSON answer. */
export function ok(body: unknown, status = 200): Answer {
  return { status, body: JSON.stringify(body) };
}

/** The omega server's error answer. */
export function fail(status: number, error: string, message: string): Answer {
  return { status, body: JSON.stringify({ error, message }) };
}

/** Settings whose fetch records each request and answers from `route`. */
export function settingsFor(route: Route) {
  const calls: ICall[] = [];
  const fetchImpl = async (input: RequestInfo, init?: RequestInit) => {
    const request = input as Request;
    const method = request.method ?? init?.method ?? 'GET';
    const url = request.url ?? String(input);
    const text = init?.body ? String(init.body) : request.text ? await request.text() : '';
    const body = text || null;
    calls.push({ method, url, body });
    const answer = route(method, url, body);
    return new Response(answer.body, {
      status: answer.status,
      headers: { 'Content-Type': 'application/json' }
    });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/hub/user/ann/',
    wsUrl: 'ws://localhost:8888/hub/user/ann/',
    fetch: fetchImpl as typeof fetch
  });
  return { settings, calls };
}
