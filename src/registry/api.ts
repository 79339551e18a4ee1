/**
 * Requests to a registry's `/v2/` API for one repository: URLs and authorization, on top of the transport.
 * Manifests and blobs use this; nothing else builds registry URLs.
 */

import type { Authenticator } from './auth.js';
import { formatReference } from './reference.js';
import type { HttpResponse, Transport, TransportRequest } from './transport.js';
import type { ImageReference } from './types.js';

export type RegistryRequest = Omit<TransportRequest, 'url' | 'authorizer' | 'authorization'>;

export class RegistryApi {
  constructor(
    readonly transport: Transport,
    readonly auth: Authenticator,
  ) {}

  /** `<scheme>://<api host>/v2/<repository>/<kind>/<target>` */
  url(reference: ImageReference, kind: 'manifests' | 'blobs', target: string): URL {
    const base = this.transport.registryBaseUrl(reference.registry);
    return new URL(`/v2/${reference.repository}/${kind}/${target}`, base);
  }

  /** Sends a request for the reference's repository, authorized for it. */
  send(reference: ImageReference, url: URL, request: RegistryRequest): Promise<HttpResponse> {
    return this.transport.request({
      ...request,
      url,
      authorizer: this.auth.forRepository(reference.registry, reference.repository),
    });
  }

  /** Like `send`, reading the whole body (capped), retrying when the body breaks off. */
  sendBytes(
    reference: ImageReference,
    url: URL,
    request: RegistryRequest,
    maxBytes: number,
    what: string,
  ): Promise<{ response: HttpResponse; bytes: Buffer }> {
    return this.transport.requestBytes(
      { ...request, url, authorizer: this.auth.forRepository(reference.registry, reference.repository) },
      maxBytes,
      what,
    );
  }
}

/** `docker.io/library/nginx` for messages. */
export function repositoryName(reference: ImageReference): string {
  return formatReference({ registry: reference.registry, repository: reference.repository });
}
