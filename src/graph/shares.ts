// Turns a SharePoint/OneDrive file URL (a `reference` attachment's contentUrl) into the Graph shares
// path that downloads it, so the file is fetched through Graph and the token never goes to that host.

/** `u!` + unpadded base64url of the UTF-8 URL, as the shares API documents for sharing URLs. */
export function sharingToken(url: string): string {
  return `u!${Buffer.from(url, 'utf8').toString('base64').replace(/=+$/, '').replace(/\//g, '_').replace(/\+/g, '-')}`;
}

/** `/shares/{token}/driveItem/content`: Graph answers with a 302 to a pre-authenticated download URL. */
export function sharesContentPath(url: string): string {
  return `/shares/${sharingToken(url)}/driveItem/content`;
}
