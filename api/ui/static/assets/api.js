// Calls to the service's own API with the session cookie; the CSRF token rides on every change.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function setCsrfToken(token) {
  csrfToken = token;
}

function errorFrom(status, body) {
  if (body && typeof body === "object") {
    const message = body.message || body.error_msg || body.error;
    if (message) return new ApiError(status, body.code || body.error_code || status, String(message));
  }
  return new ApiError(status, status, status >= 500
    ? "The server could not complete the request. Please try again."
    : `The request failed (HTTP ${status}).`);
}

export async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken || "";
  let payload;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "The service cannot be reached. Check your connection.");
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  if (!response.ok) {
    const error = errorFrom(response.status, parsed);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("kb:signed-out", { detail: error }));
    throw error;
  }
  return parsed;
}

export function dataset(id) {
  return `/v1/datasets/${encodeURIComponent(id)}`;
}

// An upload with its progress (fetch cannot report upload progress): onProgress(fraction).
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", path);
    request.withCredentials = true;
    request.setRequestHeader("X-CSRF-Token", csrfToken || "");
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onerror = () => reject(new ApiError(0, "network", "The upload was interrupted."));
    request.onload = () => {
      let parsed = null;
      try { parsed = JSON.parse(request.responseText); } catch { parsed = null; }
      if (request.status >= 200 && request.status < 300) resolve(parsed);
      else reject(errorFrom(request.status, parsed));
    };
    request.send(form);
  });
}
