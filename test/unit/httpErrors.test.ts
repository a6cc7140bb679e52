import { expect } from "chai";
import { inspect } from "node:util";
import {
  AmbiguousResponseError,
  ConfigError,
  DualWriteError,
  HttpError,
  TimeoutError,
  redactUrl,
  scrub,
  shortBody,
} from "../../provider/errors";

const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL3giLCJ0aWQiOiJ0In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

describe("http errors: redactUrl", () => {
  it("drops user info and fragments, keeps the path", () => {
    expect(redactUrl("https://user:pa55@h.example/api/x#frag")).to.equal("https://h.example/api/x");
  });

  it("keeps OData options and known gateway parameters, masks other query values", () => {
    expect(
      redactUrl(
        "https://h/data/CustomersV3?cross-company=true&$filter=dataAreaId eq 'usmf'&sig=abc&code=xyz",
      ),
    ).to.equal(
      "https://h/data/CustomersV3?cross-company=true&$filter=dataAreaId eq 'usmf'&sig=***&code=***",
    );
    expect(
      redactUrl("https://h/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=42"),
    ).to.equal("https://h/api/DualWriteManagement/1.0/Entities?targetType=AX&cid=42");
  });

  it("keeps only the path of a relative URL", () => {
    expect(redactUrl("/x/y?access_token=abc")).to.equal("/x/y");
  });
});

describe("http errors: scrub and shortBody", () => {
  it("removes bearer tokens, JWTs and secret-named JSON members and form fields", () => {
    const text = `Authorization: Bearer ${JWT} {"client_secret":"s3cr3t","access_token":"${JWT}","name":"ok"} client_secret=abc&scope=x`;
    const out = scrub(text);
    expect(out).not.to.include("s3cr3t");
    expect(out).not.to.include(JWT);
    expect(out).not.to.include("=abc");
    expect(out).to.include('"name":"ok"');
    expect(out).to.include("scope=x");
  });

  it("cuts long bodies to 300 characters on one line", () => {
    const body = shortBody(`line\n${"x".repeat(1000)}`);
    expect(body.length).to.equal(300);
    expect(body).not.to.include("\n");
  });

  it("serializes JSON bodies and scrubs them", () => {
    expect(shortBody({ error: { message: "m" }, refresh_token: "r1" })).to.equal(
      '{"error":{"message":"m"},"refresh_token":"***"}',
    );
  });
});

describe("http errors: HttpError", () => {
  it("names method, redacted URL, status and the server's code and message", () => {
    const e = new HttpError({
      method: "POST",
      url: "https://h/api/ConnectionSet/1/Reset?targetType=AX&forceReset=false&token=abc",
      status: 409,
      body: { error: { code: "MapsNotStopped", message: "Stop the maps first." } },
    });
    expect(e).to.be.instanceOf(DualWriteError);
    expect(e.code).to.equal("MapsNotStopped");
    expect(e.status).to.equal(409);
    expect(e.message).to.equal(
      "POST https://h/api/ConnectionSet/1/Reset?targetType=AX&forceReset=false&token=*** failed with HTTP 409: MapsNotStopped: Stop the maps first.",
    );
  });

  it("adds F&O's innererror message and counts attempts", () => {
    const e = new HttpError({
      method: "GET",
      url: "https://h/data/CustomersV3",
      status: 500,
      attempts: 5,
      body: JSON.stringify({
        error: {
          code: "",
          message: "An error has occurred.",
          innererror: { message: "Write failed." },
        },
      }),
    });
    expect(e.message).to.match(/after 5 attempts: An error has occurred\. Write failed\.$/);
    expect(e.code).to.equal("Http500");
  });

  it("falls back to the short body when there is no error shape", () => {
    const e = new HttpError({
      method: "GET",
      url: "https://h/x",
      status: 502,
      body: "<html>Bad gateway</html>",
    });
    expect(e.message).to.equal("GET https://h/x failed with HTTP 502: <html>Bad gateway</html>");
  });

  it("never carries a token from the body into message, body or inspect output", () => {
    const e = new HttpError({
      method: "GET",
      url: "https://h/x",
      status: 401,
      body: `{"error":{"message":"bad token Bearer ${JWT}"}}`,
    });
    expect(e.message).not.to.include(JWT);
    expect(e.body).not.to.include(JWT);
    expect(inspect(e, { depth: 5 })).not.to.include(JWT);
  });
});

describe("http errors: other errors", () => {
  it("AmbiguousResponseError says it was not repeated and why", () => {
    const e = new AmbiguousResponseError({
      method: "POST",
      url: "https://h/x/Start?sig=1",
      reason: "the connection failed (ECONNRESET)",
    });
    expect(e.code).to.equal("AmbiguousResponse");
    expect(e.message).to.equal(
      "POST https://h/x/Start?sig=*** may or may not have been applied (the connection failed (ECONNRESET)); it was not repeated because repeating it could apply it twice",
    );
  });

  it("TimeoutError and ConfigError carry their details", () => {
    expect(new TimeoutError("slow", 10).timeoutMs).to.equal(10);
    const c = new ConfigError("dualwrite:tenantId", "Missing");
    expect([c.code, c.property]).to.deep.equal(["Config", "dualwrite:tenantId"]);
  });
});
