import { describe, expect, it } from 'vitest';
import { contentBlobName, contentRefBlobName, isArchivePath } from '../../src/archive/blob-layout';
import { refHash, safeContentType } from '../../src/archive/content-store';
import { sharesContentPath, sharingToken } from '../../src/graph/shares';

describe('sharingToken', () => {
  it('encodes the documented example URL as u! + unpadded base64url', () => {
    // The shares-get page's C# sample URL; expected value computed independently with base64(1).
    expect(sharingToken('https://onedrive.live.com/redir?resid=1231244193912!12&authKey=1201919!12921!1')).toBe(
      'u!aHR0cHM6Ly9vbmVkcml2ZS5saXZlLmNvbS9yZWRpcj9yZXNpZD0xMjMxMjQ0MTkzOTEyITEyJmF1dGhLZXk9MTIwMTkxOSExMjkyMSEx',
    );
  });

  it('replaces / with _ and + with -, strips padding, and encodes non-ASCII as UTF-8', () => {
    // base64: ...ZW50cy/DpD8uZG9jeA== (a '/' and two '=')
    expect(sharingToken('https://contoso.sharepoint.com/sites/x/Shared Documents/ä?.docx')).toBe(
      'u!aHR0cHM6Ly9jb250b3NvLnNoYXJlcG9pbnQuY29tL3NpdGVzL3gvU2hhcmVkIERvY3VtZW50cy_DpD8uZG9jeA',
    );
    // base64: ...Lz4+Pw== (a '+')
    expect(sharingToken('https://x.sharepoint.com/>>?')).toBe('u!aHR0cHM6Ly94LnNoYXJlcG9pbnQuY29tLz4-Pw');
    for (const url of ['https://a/é', 'https://x.sharepoint.com/>>?', 'https://b/c d'])
      expect(sharingToken(url)).toMatch(/^u![A-Za-z0-9_-]+$/);
  });

  it('builds the driveItem content path under /shares', () => {
    expect(sharesContentPath('https://x.sharepoint.com/>>?')).toBe('/shares/u!aHR0cHM6Ly94LnNoYXJlcG9pbnQuY29tLz4-Pw/driveItem/content');
  });
});

describe('refHash', () => {
  it('is a stable SHA-256 hex that tells apart lists that would join alike', () => {
    const h = refHash(['hostedContent', 'chat', 'msg', 'hc']);
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(refHash(['hostedContent', 'chat', 'msg', 'hc'])).toBe(h);
    expect(refHash(['a|b', 'c'])).not.toBe(refHash(['a', 'b|c']));
    expect(refHash(['ab', 'c'])).not.toBe(refHash(['a', 'bc']));
    expect(refHash(['a', ''])).not.toBe(refHash(['a']));
  });
});

describe('content blob names', () => {
  const sha = 'ab'.padEnd(64, '0');
  it('fans content and reference blobs out by the first two hex digits, inside the archive', () => {
    expect(contentBlobName(sha)).toBe(`content/sha256/ab/${sha}`);
    expect(contentRefBlobName(sha)).toBe(`content/refs/ab/${sha}`);
    expect(isArchivePath(contentBlobName(sha))).toBe(true);
    expect(isArchivePath(contentRefBlobName(sha))).toBe(true);
  });

  it('refuses anything but 64 lowercase hex digits', () => {
    for (const bad of ['', sha.toUpperCase(), sha.slice(1), `${sha}0`, `../${sha.slice(3)}`, 'g'.repeat(64)]) {
      expect(() => contentBlobName(bad), bad).toThrow(RangeError);
      expect(() => contentRefBlobName(bad), bad).toThrow(RangeError);
    }
  });
});

describe('safeContentType', () => {
  it('keeps a header-safe type and falls back to octet-stream otherwise', () => {
    expect(safeContentType('image/png')).toBe('image/png');
    expect(safeContentType(undefined)).toBe('application/octet-stream');
    expect(safeContentType('image/png\r\nX-Evil: 1')).toBe('application/octet-stream');
    expect(safeContentType('bild/ä')).toBe('application/octet-stream');
  });
});
