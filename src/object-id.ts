// Microsoft Entra object ids (users, teams) as the archive keys them. Graph compares ids without regard
// to case, but the archive folder, the checkpoint row and the lease of an entity are keyed by the id's
// text: the same user named in upper case would be archived a second time under another folder. Every
// id taken from an operator (CLI flags, the HTTP backfill body) goes through this one rule.

const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a GUID in any case (no braces, no surrounding spaces). */
export function isObjectId(value: string): boolean {
  return OBJECT_ID.test(value);
}

/** The canonical form Graph returns and the archive uses: lower case. */
export function canonicalObjectId(value: string): string {
  return value.toLowerCase();
}
