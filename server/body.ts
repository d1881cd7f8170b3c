// Reads a whole request body into memory under a byte limit (413 past it).
import type { IncomingMessage } from 'node:http';
import { HttpError, badRequest } from './errors.js';

/** Error for a body that did not arrive in time; the connection is closed after the answer. */
export const bodyTimeout = (ms: number): HttpError =>
  new HttpError(408, `request body not received within ${ms} ms`, { Connection: 'close' }, 'timeout');

export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes)
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      cleanup();
      reject(bodyTimeout(timeoutMs));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        cleanup();
        req.resume(); // discard the rest so the error can still be answered
        reject(new HttpError(413, `request body exceeds the limit of ${maxBytes} bytes`));
      } else chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(badRequest(`request body could not be read: ${err.message}`));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** The media type of the request, lower-case, without parameters ('' when absent). */
export const mediaType = (req: IncomingMessage): string => (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
