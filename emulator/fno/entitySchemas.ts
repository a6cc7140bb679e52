/**
 * The declared fields of the F&O data entities the emulator serves: a data file, with the
 * Microsoft Learn page each entity and field comes from.
 *
 * The dual-write map pages list each map's F&O fields ("Finance and Operations field", printed in
 * upper case; the OData names are F&O's PascalCase, as `$metadata` and every request write them):
 * https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/dual-write/legalentities-companies,
 * …/legalentities-msdyn-internalorganizations, …/currencies-transactioncurrencies,
 * …/custcustomergroup-msdyn-customergroups, …/customersv3-accounts and …/customersv3-contacts.
 * Enum types live in the namespace `Microsoft.Dynamics.DataEntities` and appear in `$metadata`
 * as `EnumType` ("Open Data Protocol (OData)" § Using Enums, § Metadata annotations,
 * https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/odata), which also
 * gives `Gender'Unknown'` on `CustomersV3.PersonGender` and `NoYes'No'` on
 * `Currencies.ReferenceCurrencyForTriangulation`.
 *
 * Field types are the Edm types F&O's `$metadata` uses for X++ types (str → `Edm.String`, int →
 * `Edm.Int32`, real → `Edm.Decimal`, enum → its `EnumType`) [choice where a page names a field
 * without its type: the type its name and the Dataverse column it maps to imply]. Only fields the
 * sources list, plus the ones noted, are declared; a field the real entity has but this file
 * lacks is a gap of the file, not of the service.
 */

/** An F&O field's type: an Edm primitive, or an enum type of `Microsoft.Dynamics.DataEntities`. */
export type FnoFieldType =
  | { readonly kind: "Edm.String" }
  | { readonly kind: "Edm.Int32" }
  | { readonly kind: "Edm.Int64" }
  | { readonly kind: "Edm.Decimal" }
  | { readonly kind: "Edm.DateTimeOffset" }
  | { readonly kind: "enum"; readonly enumType: string };

/** One declared field. */
export interface FnoField {
  readonly type: FnoFieldType;
  /**
   * F&O refuses a create without it: the infolog says `Field '<label>' must be filled in.`
   * (key fields are always required; number sequences are not emulated).
   */
  readonly requiredLabel?: string;
}

/** The declared shape of one entity set. */
export interface FnoEntitySchema {
  /** Entity set (public collection) name, e.g. `CustomersV3`. */
  readonly set: string;
  /** Public entity type name without namespace, e.g. `CustomerV3`. */
  readonly entityType: string;
  /** AOT entity the infolog names, e.g. `CustCustomerV3Entity`. */
  readonly aotEntity: string;
  /** Pages the entity and its fields come from. */
  readonly sources: readonly string[];
  readonly fields: Readonly<Record<string, FnoField>>;
}

/** The namespace of F&O entity and enum types. */
export const FNO_NAMESPACE = "Microsoft.Dynamics.DataEntities";

/**
 * Members of the enum types the declared fields use, as F&O writes them in payloads and literals.
 * An enum type without a member list accepts any member name (its members are not in the sources).
 */
export const FNO_ENUM_MEMBERS: Readonly<Record<string, readonly string[] | undefined>> = {
  // odata.md: NoYes'Yes', NoYes'No'.
  NoYes: ["No", "Yes"],
  // The customer maps' source filters: PartyType == "Organization" / "Person" [choice: the
  // enum's other members are not in the sources; a customer is one of these two].
  DirPartyBaseType: ["Person", "Organization"],
  // odata.md: Gender'Unknown' [choice: Male, Female, NonSpecific].
  Gender: ["Unknown", "Male", "Female", "NonSpecific"],
  // CustomersV3 OnHoldStatus [choice: the X++ enum CustVendorBlocked's members].
  CustVendorBlocked: ["No", "Invoice", "All", "Payment", "Requisition", "Never"],
  DirPersonMaritalStatus: undefined,
  CustInvoiceAddressType: undefined,
};

const MAPS =
  "https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/dual-write";
const ODATA = "https://learn.microsoft.com/dynamics365/fin-ops-core/dev-itpro/data-entities/odata";

const str: FnoField = { type: { kind: "Edm.String" } };
const int: FnoField = { type: { kind: "Edm.Int32" } };
const dec: FnoField = { type: { kind: "Edm.Decimal" } };
const enumOf = (enumType: string): FnoField => ({ type: { kind: "enum", enumType } });
const required = (label: string): FnoField => ({ ...str, requiredLabel: label });

/** The fields of one postal address group (`Address…`, `InvoiceAddress…`, `DeliveryAddress…`). */
function address(prefix: string): Record<string, FnoField> {
  return {
    [`${prefix}City`]: str,
    [`${prefix}CountryRegionISOCode`]: str,
    [`${prefix}County`]: str,
    [`${prefix}Latitude`]: dec,
    [`${prefix}Longitude`]: dec,
    [`${prefix}State`]: str,
    [`${prefix}Street`]: str,
    [`${prefix}ZipCode`]: str,
  };
}

/** The primary contact fields of CustomersV3 (both customer maps). */
function primaryContacts(): Record<string, FnoField> {
  const fields: Record<string, FnoField> = {};
  for (const kind of ["Email", "Fax", "Phone", "Twitter", "Url", "Facebook", "LinkedIn"]) {
    fields[`PrimaryContact${kind}`] = str;
    fields[`PrimaryContact${kind}Description`] = str;
  }
  fields["PrimaryContactFaxExtension"] = str;
  fields["PrimaryContactPhoneExtension"] = str;
  return fields;
}

/** Every entity the emulator serves, with its declared fields. */
export const FNO_ENTITY_SCHEMAS: readonly FnoEntitySchema[] = [
  {
    set: "LegalEntities",
    entityType: "LegalEntity",
    aotEntity: "OMLegalEntity",
    sources: [
      `${MAPS}/legalentities-companies`,
      `${MAPS}/legalentities-msdyn-internalorganizations`,
    ],
    fields: {
      LegalEntityId: str,
      Name: str,
      NameAlias: str,
      LanguageId: str,
      PartyNumber: str,
      // The country of the company's primary address [choice: in F&O's $metadata, on no map
      // page; the seeds set it].
      AddressCountryRegionId: str,
    },
  },
  {
    set: "Currencies",
    entityType: "Currency",
    aotEntity: "CurrencyEntity",
    sources: [`${MAPS}/currencies-transactioncurrencies`, ODATA],
    fields: {
      CurrencyCode: str,
      Name: str,
      Symbol: str,
      ReferenceCurrencyForTriangulation: enumOf("NoYes"),
    },
  },
  {
    set: "CustomerGroups",
    entityType: "CustomerGroup",
    aotEntity: "CustCustomerGroupEntity",
    sources: [`${MAPS}/custcustomergroup-msdyn-customergroups`],
    fields: {
      dataAreaId: str,
      CustomerGroupId: str,
      Description: str,
      IsSalesTaxIncludedInPrice: enumOf("NoYes"),
      PaymentTermId: str,
      ClearingPeriodPaymentTermName: str,
    },
  },
  {
    set: "CustomersV3",
    entityType: "CustomerV3",
    aotEntity: "CustCustomerV3Entity",
    sources: [`${MAPS}/customersv3-accounts`, `${MAPS}/customersv3-contacts`, ODATA],
    fields: {
      dataAreaId: str,
      CustomerAccount: str,
      PartyType: enumOf("DirPartyBaseType"),
      PartyNumber: str,
      OrganizationName: str,
      OrganizationNumberOfEmployees: int,
      PersonFirstName: str,
      PersonMiddleName: str,
      PersonLastName: str,
      PersonProfessionalTitle: str,
      PersonGender: enumOf("Gender"),
      PersonMaritalStatus: enumOf("DirPersonMaritalStatus"),
      // "Field 'Customer group' must be filled in." is the infolog of a customer without one
      // (dual-write live-sync troubleshooting; the runtime's adapters use the same text).
      CustomerGroupId: required("Customer group"),
      SalesCurrencyCode: str,
      SalesMemo: str,
      LanguageId: str,
      ContactPersonId: str,
      CreditLimit: dec,
      CreditLimitIsMandatory: enumOf("NoYes"),
      CreditRating: str,
      IdentificationNumber: str,
      InvoiceAccount: str,
      InvoiceAddress: enumOf("CustInvoiceAddressType"),
      IsOneTimeCustomer: enumOf("NoYes"),
      OnHoldStatus: enumOf("CustVendorBlocked"),
      PartyCountry: str,
      PartyState: str,
      PaymentDay: str,
      PaymentMethod: str,
      PaymentSchedule: str,
      PaymentTerms: str,
      PaymentTermsBaseDays: int,
      TaxExemptNumber: str,
      VendorAccount: str,
      ...primaryContacts(),
      ...address("Address"),
      AddressLocationRoles: str,
      AddressPostBox: str,
      ...address("InvoiceAddress"),
      ...address("DeliveryAddress"),
    },
  },
];

const bySet = new Map(FNO_ENTITY_SCHEMAS.map((s) => [s.set, s]));

/** The declared shape of an entity set, or undefined when the emulator declares none. */
export function fnoEntitySchema(set: string): FnoEntitySchema | undefined {
  return bySet.get(set);
}

/** The Edm name of a field type: `Edm.String`, `Microsoft.Dynamics.DataEntities.NoYes`. */
export function edmTypeName(type: FnoFieldType): string {
  return type.kind === "enum" ? `${FNO_NAMESPACE}.${type.enumType}` : type.kind;
}
