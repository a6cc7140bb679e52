/**
 * Deterministic fixture data: legal entities, currencies, customer groups and customers of the
 * Contoso demo companies. The same company and size always give the same rows, so a Dataverse
 * seed can share account numbers with an F&O seed (the same customer known on both sides) and
 * tests can name rows they expect.
 */
import { SeededRandom } from "../runtime/ids";

/** A legal entity of the seeds. */
export interface SeedLegalEntity {
  readonly code: string;
  readonly name: string;
  readonly country: string;
  readonly currency: string;
}

/** DAT, present in every F&O environment. */
export const datLegalEntity: SeedLegalEntity = {
  code: "DAT",
  name: "Company accounts data",
  country: "USA",
  currency: "USD",
};

/** The demo companies of an existing F&O environment (besides DAT). */
export const contosoLegalEntities: readonly SeedLegalEntity[] = [
  { code: "USMF", name: "Contoso Entertainment System USA", country: "USA", currency: "USD" },
  { code: "USRT", name: "Contoso Retail USA", country: "USA", currency: "USD" },
  { code: "DEMF", name: "Contoso Entertainment System Germany", country: "DEU", currency: "EUR" },
];

/** ISO currencies every F&O environment has (standard reference data). */
export const fnoCurrencies: ReadonlyArray<readonly [code: string, name: string, symbol: string]> = [
  ["USD", "US Dollar", "$"],
  ["EUR", "Euro", "€"],
  ["GBP", "Pound Sterling", "£"],
  ["CAD", "Canadian Dollar", "$"],
  ["JPY", "Japanese Yen", "¥"],
  ["DKK", "Danish Krone", "kr"],
  ["SEK", "Swedish Krona", "kr"],
  ["CHF", "Swiss Franc", "CHF"],
  ["AUD", "Australian Dollar", "$"],
  ["MXN", "Mexican Peso", "$"],
];

const groupNames = [
  "Wholesale customers",
  "Retail customers",
  "Major customers",
  "Intercompany customers",
  "Web customers",
  "Employees",
  "Government",
  "Education",
  "Distributors",
  "Partners",
];

const orgWords = [
  "Adatum",
  "Fabrikam",
  "Litware",
  "Northwind",
  "Proseware",
  "Tailspin",
  "Wingtip",
  "Alpine",
  "Coho",
  "Lamna",
  "Trey",
  "Humongous",
  "Blue Yonder",
  "Fourth Coffee",
  "Woodgrove",
  "Margie's",
];
const orgKinds = [
  "Toys",
  "Electronics",
  "Outfitters",
  "Supplies",
  "Traders",
  "Foods",
  "Studios",
  "Labs",
  "Motors",
  "Media",
];
const orgSuffixes = ["Inc.", "Ltd.", "LLC", "Corp.", "GmbH", "Group"];
const firstNames = [
  "Ana",
  "Ben",
  "Chen",
  "Dana",
  "Eli",
  "Fatima",
  "Gus",
  "Hana",
  "Ivan",
  "Jonas",
  "Kira",
  "Luis",
  "Mia",
  "Noah",
  "Olga",
  "Pia",
];
const lastNames = [
  "Berg",
  "Costa",
  "Diaz",
  "Eriksen",
  "Fischer",
  "Garcia",
  "Hansen",
  "Ito",
  "Jensen",
  "Kowalski",
  "Lopez",
  "Meyer",
  "Novak",
  "Okafor",
];
const usCities = [
  "Seattle",
  "Redmond",
  "Chicago",
  "Boston",
  "Austin",
  "Denver",
  "Atlanta",
  "Phoenix",
];
const deCities = ["Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart"];

/** Customer groups per company for a size: about one per ten customers, at least 3, at most 50, never more than `size`. */
export function groupCount(size: number): number {
  return Math.min(size, 50, Math.max(3, Math.ceil(size / 10)));
}

/** A customer group of the seeds. */
export interface SeedGroup {
  readonly id: string;
  readonly description: string;
}

/** The customer groups `10`, `20`, … of a company. */
export function seedGroups(size: number): SeedGroup[] {
  const out: SeedGroup[] = [];
  for (let i = 0; i < groupCount(size); i++) {
    const base = groupNames[i % groupNames.length] as string;
    out.push({
      id: String((i + 1) * 10),
      description:
        i < groupNames.length ? base : `${base} ${Math.floor(i / groupNames.length) + 1}`,
    });
  }
  return out;
}

/** A customer of the seeds (F&O `CustomersV3` shape, minus `dataAreaId`). */
export interface SeedCustomer {
  readonly account: string;
  readonly partyType: "Organization" | "Person";
  readonly organizationName: string | null;
  readonly firstName: string | null;
  readonly lastName: string | null;
  readonly groupId: string;
  readonly currency: string;
  readonly city: string;
  readonly email: string;
}

/**
 * The `size` customers of a company: about 70% organizations, 30% persons. Made one at a time
 * as they are read, so that a seed of a million customers never holds them all twice.
 */
export function* seedCustomers(
  company: SeedLegalEntity,
  size: number,
): Generator<SeedCustomer, void, undefined> {
  const rng = new SeededRandom(`customers/${company.code}`);
  const groups = seedGroups(size);
  const cities = company.country === "DEU" ? deCities : usCities;
  for (let i = 1; i <= size; i++) {
    const account = `${company.code}-${String(i).padStart(5, "0")}`;
    const person = rng.next() < 0.3;
    const group = groups.length > 0 ? rng.pick(groups).id : "";
    const currency =
      rng.next() < 0.85 ? company.currency : rng.pick(["CAD", "GBP", "EUR", "USD", "JPY"]);
    const city = rng.pick(cities);
    if (person) {
      const first = rng.pick(firstNames);
      const last = rng.pick(lastNames);
      yield {
        account,
        partyType: "Person",
        organizationName: null,
        firstName: first,
        lastName: last,
        groupId: group,
        currency,
        city,
        email: `${first}.${last}${i}@example.com`.toLowerCase(),
      };
    } else {
      const name = `${rng.pick(orgWords)} ${rng.pick(orgKinds)} ${rng.pick(orgSuffixes)}`;
      yield {
        account,
        partyType: "Organization",
        organizationName: name,
        firstName: null,
        lastName: null,
        groupId: group,
        currency,
        city,
        email: `info${i}@${name
          .split(" ")[0]
          ?.toLowerCase()
          .replace(/[^a-z]/g, "")}.example`,
      };
    }
  }
}
