/**
 * What a failed call means for the person running the doctor: the provider's errors (statuses,
 * network codes, timeouts, unexpected bodies), turned into one line of what happened and one line
 * of what to do, per surface. Messages are the provider's own, already free of secrets, and
 * scrubbed once more on the way out.
 */
import { SETTINGS, type ProviderConfig } from "../provider/config";
import {
  DualWriteError,
  HttpError,
  InvalidResponseError,
  TimeoutError,
  scrub,
} from "../provider/errors";

/** The services the doctor talks to (Entra ID aside). */
export type Surface = "gateway" | "dataverse" | "fno";

/** A failure for people. */
export interface Failure {
  /** What happened, one line. */
  readonly summary: string;
  /** What to do, one line. */
  readonly todo: string;
  /** The provider's error message, when the summary does not already say it all. */
  readonly detail?: string;
}

/**
 * How to find the gateway's URL (it is regional and no API lists it): the way Microsoft's tool
 * learns it, from the portal's own traffic (DWLibary/EdgeUniversal.cs:301-343).
 */
export const FIND_GATEWAY_URL =
  "take the scheme and host of the portal's calls to …/api/DualWriteManagement/1.0/… " +
  "(browser developer tools on https://dataintegrator.trafficmanager.net/dualWrite?axenv=<F&O host>, " +
  "as Microsoft's tool does: DWLibary/EdgeUniversal.cs:301-343)";

/** Where the gateway's delegated sign-in is explained. */
const GATEWAY_SIGN_IN_DOC = `docs/getting-started.md, "The gateway's sign-in"`;

/** Settings that give the gateway a delegated user token. */
export const DELEGATED_SETTINGS =
  `${SETTINGS.gatewayUsername.key} and ${SETTINGS.gatewayPassword.key} (a non-MFA account with dual-write rights), ` +
  `${SETTINGS.gatewayRefreshToken.key} (a browser sign-in), or ${SETTINGS.gatewayTokenCommand.key}`;

/** Network codes that mean "nothing answers at that address" rather than a broken exchange. */
const NO_SERVER = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/** What the doctor knows about the call that failed. */
export interface CallContext {
  readonly surface: Surface;
  /** The base URL of the service, e.g. the gateway's. */
  readonly baseUrl: string;
  readonly cfg: ProviderConfig;
  /** Whether the token sent was app-only (no `scp`). */
  readonly appOnlyToken: boolean;
}

/** One line and one hint for a failed call to a surface. */
export function callFailure(error: unknown, call: CallContext): Failure {
  const message = errorText(error);
  if (error instanceof HttpError) return statusFailure(error, call, message);
  if (error instanceof TimeoutError) {
    return {
      summary: `no answer from ${call.baseUrl} in time (${message})`,
      todo: `check the network path to ${call.baseUrl} (proxy, firewall, VPN), then run doctor again`,
    };
  }
  if (error instanceof InvalidResponseError) {
    return {
      summary: `${call.baseUrl} answered, but not as a ${SURFACE_NAMES[call.surface]} does (${message})`,
      todo:
        call.surface === "gateway"
          ? `check ${SETTINGS.gatewayUrl.key}: ${FIND_GATEWAY_URL}`
          : `check that ${call.baseUrl} is the ${SURFACE_NAMES[call.surface]}'s URL`,
    };
  }
  if (error instanceof DualWriteError && error.code === "Tls") {
    return {
      summary: `the certificate of ${call.baseUrl} is not trusted (${message})`,
      todo: `trust its CA: set ${SETTINGS.caCertificatePath.key} (or ${SETTINGS.caCertificatePath.env}, or NODE_EXTRA_CA_CERTS) to its PEM file`,
    };
  }
  const code = networkCode(error);
  if (code !== undefined && NO_SERVER.has(code)) {
    return {
      summary: `nothing answers at ${call.baseUrl} (${code})`,
      todo:
        call.surface === "gateway"
          ? `${SETTINGS.gatewayUrl.key} names no gateway: ${FIND_GATEWAY_URL}`
          : `check the URL of the ${SURFACE_NAMES[call.surface]} (${call.surface === "fno" ? "--finance-operations-url" : "--dataverse-url"}) and the network path to it`,
    };
  }
  return {
    summary: message,
    todo: `check the network path to ${call.baseUrl} and run doctor again`,
  };
}

const SURFACE_NAMES: Readonly<Record<Surface, string>> = {
  gateway: "DualWriteManagement gateway",
  dataverse: "Dataverse Web API",
  fno: "Finance and Operations OData service",
};

function statusFailure(error: HttpError, call: CallContext, message: string): Failure {
  const { surface, baseUrl, cfg } = call;
  const answer = `HTTP ${error.status}${error.serverMessage ? `: ${shorten(error.serverMessage, 200)}` : ""}`;
  const summary = `${error.method} ${shorten(error.url, 160)} answered ${answer}`;
  const detail = message;
  if (error.status >= 500)
    return { summary, detail, todo: "the service failed on its side: run doctor again later" };
  if (error.status === 429)
    return {
      summary,
      detail,
      todo: "the service is throttling: wait a few minutes, then run doctor again",
    };
  switch (surface) {
    case "gateway":
      if (error.status === 401 && call.appOnlyToken)
        return {
          summary: `the gateway refused the app-only token (HTTP 401): it wants a delegated user token`,
          detail,
          todo: `give the gateway its own sign-in: ${DELEGATED_SETTINGS} (${GATEWAY_SIGN_IN_DOC})`,
        };
      if (error.status === 401)
        return {
          summary: `the gateway refused the user's token (${answer})`,
          detail,
          todo: `sign the gateway in as the user who set up dual-write (or one with the same rights), for scope ${cfg.gatewayScope} (${GATEWAY_SIGN_IN_DOC})`,
        };
      if (error.status === 403)
        return {
          summary: `the gateway refused the user (${answer})`,
          detail,
          todo: "the signed-in user may not administer dual-write for this environment: use the account that set up dual-write",
        };
      if (error.status === 404)
        return {
          summary: `no DualWriteManagement gateway at ${baseUrl} (HTTP 404)`,
          detail,
          todo: `${SETTINGS.gatewayUrl.key} is not the gateway: ${FIND_GATEWAY_URL}`,
        };
      break;
    case "dataverse":
      if (error.status === 401)
        return {
          summary: `Dataverse refused the token (${answer})`,
          detail,
          todo: `make the app (client ${cfg.clientId || "of the Azure CLI user"}) an application user of ${baseUrl} with a security role, or, with the Azure CLI, a user of it (docs/getting-started.md, section 3)`,
        };
      if (error.status === 403)
        return {
          summary: `Dataverse refused the caller (${answer})`,
          detail,
          todo: `give the application user of ${baseUrl} the System Administrator role (docs/getting-started.md, section 3)`,
        };
      if (error.status === 404)
        return {
          summary: `no Dataverse Web API at ${baseUrl} (HTTP 404)`,
          detail,
          todo: `check the Dataverse URL (--dataverse-url, or the link's): ${baseUrl}`,
        };
      break;
    case "fno":
      if (error.status === 401)
        return {
          summary: `F&O refused the token (${answer})`,
          detail,
          todo: `register the app (client ${cfg.clientId || "of the Azure CLI user"}) in F&O under System administration > Setup > Microsoft Entra applications, mapped to a user (docs/getting-started.md, section 4)`,
        };
      if (error.status === 403)
        return {
          summary: `F&O refused the caller (${answer})`,
          detail,
          todo: "give the F&O user the app is mapped to a role that reads legal entities (docs/getting-started.md, section 4)",
        };
      if (error.status === 404)
        return {
          summary: `no F&O OData service at ${baseUrl}/data (HTTP 404)`,
          detail,
          todo: `check --finance-operations-url: ${baseUrl}`,
        };
      break;
  }
  return {
    summary,
    detail,
    todo: `run doctor again once ${baseUrl} answers this call with 200`,
  };
}

function shorten(text: string, max: number): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The text of an error for output: first lines only, scrubbed of anything credential-like. */
export function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return scrub(text.split(/\r?\n/).slice(0, 2).join(" ")).slice(0, 600);
}

/**
 * The reason a credential gave, without the provider's "Could not get a token … with <the whole
 * configuration>" preamble (step 1 shows the configuration already).
 */
export function credentialText(error: unknown): string {
  const cause = error instanceof DualWriteError ? error.cause : undefined;
  return errorText(cause instanceof Error ? cause : error);
}

/** The network error code in a provider error (`ECONNREFUSED`, …), if any. */
export function networkCode(error: unknown): string | undefined {
  if (!(error instanceof DualWriteError) || error.code !== "Network") return undefined;
  return /\b(E[A-Z]{3,}|ERR_[A-Z_]+|UND_ERR_[A-Z_]+)\b/.exec(error.message)?.[1];
}
