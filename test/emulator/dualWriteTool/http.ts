/**
 * Sends the tool's requests (./requests.ts) with Node's own `https`, independent of the provider's
 * clients: exactly the headers `HttpClient` puts on the wire for the tool (see requests.ts), the
 * body bytes as given, nothing added but `Host`, `Content-Length` and `Connection`. Also the two
 * token grants the tool's sign-in uses, as raw form posts.
 */
import { request as httpsRequest } from "node:https";
import {
  JSON_CONTENT_TYPE,
  TOOL_CLIENT_ID,
  TOOL_ORIGIN,
  TOOL_SCOPE,
  TOOL_USER_AGENT,
  type ToolRequest,
} from "./requests";

/** An answer: status, headers and body text. */
export interface ToolResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

/** A raw HTTPS exchange (the emulator's CA is trusted process-wide by the test harness). */
export function send(
  method: string,
  url: string,
  headers: Readonly<Record<string, string>>,
  body?: string,
): Promise<ToolResponse> {
  const payload = body === undefined ? undefined : Buffer.from(body, "utf8");
  const all: Record<string, string> = { ...headers };
  if (payload !== undefined) all["Content-Length"] = String(payload.length);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, headers: all, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers["content-type"],
          text: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/**
 * Sends one of the tool's requests to the gateway at `gatewayUrl` (`https://<host>:<port>`) with
 * the tool's headers (`DWHttp.cs:27-42` for POST, `59-78` for GET, `80-91` for the bearer).
 */
export function sendToolRequest(
  gatewayUrl: string,
  token: string,
  request: ToolRequest,
): Promise<ToolResponse> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
  if (request.method === "POST") {
    headers.Accept = "application/json";
    headers.Origin = TOOL_ORIGIN;
    headers["User-Agent"] = TOOL_USER_AGENT;
    headers["Content-Type"] = JSON_CONTENT_TYPE;
  }
  return send(request.method, `${gatewayUrl}${request.pathAndQuery}`, headers, request.body);
}

function form(fields: Readonly<Record<string, string>>): string {
  return new URLSearchParams(fields).toString();
}

function tokenFrom(response: ToolResponse, what: string): TokenAnswer {
  if (response.status !== 200) {
    throw new Error(`${what}: ${response.status} ${response.text.slice(0, 300)}`);
  }
  return JSON.parse(response.text) as TokenAnswer;
}

/** The parts of a token answer the suite uses. */
export interface TokenAnswer {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly scope?: string;
}

/**
 * The username/password grant for the dual-write client, as `UsernamePasswordCredential`
 * (`ServicePrincipalAuth.cs:35-36`) and toolbAX's `MsalRopcTokenAcquirer` send it through MSAL.
 */
export async function passwordGrant(
  authorityUrl: string,
  tenant: string,
  username: string,
  password: string,
): Promise<TokenAnswer> {
  const res = await send(
    "POST",
    `${authorityUrl}/${tenant}/oauth2/v2.0/token`,
    { "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8" },
    form({
      client_id: TOOL_CLIENT_ID,
      scope: TOOL_SCOPE,
      grant_type: "password",
      username,
      password,
    }),
  );
  return tokenFrom(res, "password grant");
}

/** The refresh-token grant exactly as `TokenRefresh.cs:131-157` builds it (authority `common`). */
export async function refreshGrant(
  authorityUrl: string,
  refreshToken: string,
): Promise<TokenAnswer> {
  const res = await send(
    "POST",
    `${authorityUrl}/common/oauth2/v2.0/token`,
    {
      Accept: "application/json",
      origin: TOOL_ORIGIN,
      "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    },
    form({
      client_id: TOOL_CLIENT_ID,
      scope: TOOL_SCOPE,
      redirect_uri: "https://dataintegrator.trafficmanager.net/dualWrite",
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    }),
  );
  return tokenFrom(res, "refresh grant");
}

/** An app-only token (client credentials), for Dataverse set-up calls and the refusal check. */
export async function clientCredentialsGrant(
  authorityUrl: string,
  tenant: string,
  clientId: string,
  clientSecret: string,
  resource: string,
): Promise<string> {
  const res = await send(
    "POST",
    `${authorityUrl}/${tenant}/oauth2/v2.0/token`,
    { "Content-Type": "application/x-www-form-urlencoded" },
    form({
      client_id: clientId,
      client_secret: clientSecret,
      scope: `${resource.replace(/\/$/, "")}/.default`,
      grant_type: "client_credentials",
    }),
  );
  return tokenFrom(res, "client credentials grant").access_token;
}
