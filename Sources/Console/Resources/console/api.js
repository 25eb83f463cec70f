// The REST API with the session's token: JSON in, JSON out, problem+json errors as ApiError.

/** A refused request, from its problem document (RFC 9457). */
export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    const detail = problem.detail || problem.title || `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.code = problem.code || 'http_' + status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }

  /** A sentence for the person, with what each field got wrong. */
  get explanation() {
    const fields = (this.problem.errors || []).map((e) => `${e.pointer || ''} ${e.detail || ''}`.trim());
    return [this.message, ...fields].join(' — ');
  }
}

/** Calls the API. `body` is sent as JSON; answers are parsed as JSON. */
export async function request(session, path, { method = 'POST', body, headers = {} } = {}) {
  const init = { method, headers: { Authorization: `Bearer ${session.token}`, ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { title: response.statusText };
    }
    throw new ApiError(response.status, problem, response.headers.get('Retry-After'));
  }
  return response.status === 204 ? null : response.json();
}

const blobs = new Map();

/**
 * A `blob:` URL for an artifact: the artifact API needs the token, which an `<audio>` or
 * `<img>` element cannot send. Each artifact is fetched once per page.
 */
export function artifactURL(session, path) {
  if (!blobs.has(path)) {
    const pending = fetch(path, { headers: { Authorization: `Bearer ${session.token}` } }).then(async (response) => {
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => ({})), null);
      return URL.createObjectURL(await response.blob());
    });
    pending.catch(() => blobs.delete(path));
    blobs.set(path, pending);
  }
  return blobs.get(path);
}
