/**
 * A stand-in for a Lambda function URL with AuthType AWS_IAM: events in its payload format
 * (version 2.0), and a local HTTP server that takes a SigV4-signed request, names the caller
 * by the access key id it was signed with (as Lambda does once the signature checks out), and
 * hands the event to a handler. The signature itself is not verified: that is AWS's part (and
 * the operations function believes neither: it asks STS about the proof in the body).
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FunctionUrlResponse {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

type Handler = (event: object, context: object) => Promise<FunctionUrlResponse>;

/** A function URL event; `callerArn` null gives one without an IAM authorizer. */
export function functionUrlEvent(
  body: unknown,
  callerArn: string | null = 'arn:aws:sts::123456789012:assumed-role/RecoveryOperatorRole/alice',
) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'local.lambda-url.us-east-1.on.aws',
      domainPrefix: 'local',
      http: {
        method: 'POST',
        path: '/',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      ...(callerArn === null
        ? {}
        : {
            authorizer: {
              iam: {
                accessKey: 'AKIDLOCAL',
                accountId: '123456789012',
                callerId: 'AROALOCAL:alice',
                userArn: callerArn,
                userId: 'AROALOCAL:alice',
              },
            },
          }),
    },
  };
}

export interface SeenRequest {
  readonly method: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface LocalFunctionUrl {
  readonly url: string;
  /** The requests received, in order. */
  readonly requests: readonly SeenRequest[];
  stop(): Promise<void>;
}

/**
 * Serves `handler` as a function URL. A request without a SigV4 Authorization header for
 * service lambda is refused with 403, as Lambda refuses it; `callers` maps the signing access
 * key id to the caller's ARN.
 */
export async function startFunctionUrl(
  handler: Handler,
  context: object,
  callers: Readonly<Record<string, string>>,
): Promise<LocalFunctionUrl> {
  const requests: SeenRequest[] = [];
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    requests.push({ method: request.method ?? '', headers: request.headers, body });
    const authorization = String(request.headers.authorization ?? '');
    const signed =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/[a-z0-9-]+\/lambda\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.exec(
        authorization,
      );
    const caller = signed?.[1] === undefined ? undefined : callers[signed[1]];
    if (caller === undefined) {
      response.writeHead(403, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ Message: 'Forbidden' }));
      return;
    }
    const event = functionUrlEvent(body, caller);
    const result = await handler(
      {
        ...event,
        requestContext: {
          ...event.requestContext,
          http: { ...event.requestContext.http, method: request.method },
        },
      },
      context,
    );
    response.writeHead(result.statusCode, result.headers ?? {});
    response.end(result.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
