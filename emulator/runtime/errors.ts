/**
 * The gateway's errors, one factory per code. The server renders them as
 * `{"error":{"code","message"}}`. Messages say what is wrong and what to do.
 */
import { EmulatorHttpError } from "../core/http";

/** The text dual-write answers when a company cannot be enabled (duplicate or blank name). */
export const duplicateCompanyText =
  "Saving connection set failed! An item with the same key has already been added.";

/** Factory of gateway errors. */
export const gatewayErrors = {
  badRequest(message: string): EmulatorHttpError {
    return new EmulatorHttpError(400, "BadRequest", message);
  },
  /** An action that is not one of the tool's string codes (DWLibary/Engines/DWMapEngine.cs:1711-1738). */
  invalidAction(action: unknown): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "InvalidAction",
      `action ${JSON.stringify(action) ?? "undefined"} is not a map action; send one of the strings "1" (start), "4" (stop), "5" (pause), "6" (resume) or "8" (initialize).`,
    );
  },
  /** A `tid` that is no template (version) id of the environment's maps, e.g. an old map id. */
  unknownTemplate(tid: string, env: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "InvalidTemplateId",
      `tid ${tid} is not a template id of a map in environment '${env}'. Send detail.template.id (= detail.tid) from GET Entities.`,
    );
  },
  environmentNotFound(what: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "EnvironmentNotFound",
      `No Finance and Operations environment ${what} in this emulator. Its cid is the Id of Dataverse RetrieveFinanceAndOperationsIntegrationDetails, or the cid of GET Environments?targetType=AX&identifier=<F&O host> once linked.`,
    );
  },
  dataverseNotFound(what: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "EnvironmentNotFound",
      `No Dataverse environment ${what} in this emulator.`,
    );
  },
  notLinked(env: string): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "NotLinked",
      `The Finance and Operations environment '${env}' is not linked to a Dataverse environment. Link it first (POST /api/ConnectionSet/<cid>/Reset with environments).`,
    );
  },
  dataverseNotLinked(org: string): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "NotLinked",
      `The Dataverse environment '${org}' is not linked to a Finance and Operations environment.`,
    );
  },
  /** No link's CRM environment has this dataset name (`api/dataset/<name>/IntegrationKeys`). */
  datasetNotFound(name: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "DatasetNotFound",
      `No dataset '${name}'. Use the name of the CRM environment of the connection set (GET /api/ConnectionSet/<cname>, environments[…].name where targetType is CRM).`,
    );
  },
  /** No initialized map has this project name (`api/Project/<name>/Refresh`). */
  projectNotFound(name: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "ProjectNotFound",
      `No project '${name}'. Read the project name from GET DWM/<pid>/FieldMappings (name).`,
    );
  },
  connectionSetNotFound(cname: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "ConnectionSetNotFound",
      `No connection set '${cname}': the environment is not linked.`,
    );
  },
  dataverseAlreadyLinked(org: string, otherEnv: string): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "DataverseAlreadyLinked",
      `The Dataverse environment '${org}' is already linked to the Finance and Operations environment '${otherEnv}'. A link is 1:1: reset that link first.`,
    );
  },
  mapsNotStopped(maps: readonly string[]): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "MapsNotStopped",
      `All maps must be stopped before the link is reset; not stopped: ${maps.join(", ")}. Stop them, or reset with forceReset=true.`,
    );
  },
  mapInitializing(maps: readonly string[]): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "MapInitializing",
      `Legal entities cannot be changed while a map runs initial writes (${maps.join(", ")}). Wait until it finishes.`,
    );
  },
  mapPaused(maps: readonly string[]): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "MapPaused",
      `A legal entity cannot be removed while a map is paused (${maps.join(", ")}). Resume or stop the map first.`,
    );
  },
  tooManyLegalEntities(count: number, limit: number): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "TooManyLegalEntities",
      limit === 40
        ? `${count} legal entities with initial writes exceed the limit of 40. Link at most 40, or set skipInitialWritesForNewLegalEntities.`
        : `${count} legal entities exceed the limit of ${limit} per link.`,
    );
  },
  unknownLegalEntity(codes: readonly string[], env: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "UnknownLegalEntity",
      `Legal entit${codes.length > 1 ? "ies" : "y"} ${codes.map((c) => `'${c}'`).join(", ")} do${codes.length > 1 ? "" : "es"} not exist in the Finance and Operations environment '${env}'. Create ${codes.length > 1 ? "them" : "it"} there first (LegalEntities).`,
    );
  },
  saveConnectionSetFailed(detail: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "SaveConnectionSetFailed",
      `${duplicateCompanyText} ${detail}`,
    );
  },
  mapNotFound(what: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "MapNotFound",
      `No map ${what}. List maps with GET Entities?targetType=AX&cid=<cid>; only maps of applied solutions exist.`,
    );
  },
  mapBusy(map: string, requestId: string): EmulatorHttpError {
    return new EmulatorHttpError(
      409,
      "MapBusy",
      `Map '${map}' is busy with request ${requestId}. Poll Status/${requestId} until it completes.`,
    );
  },
  mapNotStopped(map: string, state: string): EmulatorHttpError {
    return new EmulatorHttpError(409, "MapNotStopped", `Map '${map}' is ${state}; stop it first.`);
  },
  templateNotFound(templateId: string, map: string): EmulatorHttpError {
    return new EmulatorHttpError(
      404,
      "TemplateNotFound",
      `Map '${map}' has no version with template id ${templateId}; its versions are listed in Entities (detail.templates).`,
    );
  },
  requestNotFound(requestId: string): EmulatorHttpError {
    return new EmulatorHttpError(404, "RequestNotFound", `No request ${requestId}.`);
  },
  unknownSolution(name: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "UnknownSolution",
      `'${name}' is not an orchestration solution with dual-write maps. List them with GET SolutionAware/<cid>/Solutions/.`,
    );
  },
  unknownEntitySet(set: string): EmulatorHttpError {
    return new EmulatorHttpError(
      400,
      "UnknownEntity",
      `No dual-write map has the Dataverse entity set '${set}'.`,
    );
  },
};
