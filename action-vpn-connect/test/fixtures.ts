// Made-up PEM blocks: shaped like the real thing, valid for nothing.
export const CA = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUFakeCaFakeCaFakeCaFakeCaFakeCaFakeCa\nFAKECAFAKECAFAKECAFAKECAFAKECAFAKECAFAKECAFAKECAFAKECA\n-----END CERTIFICATE-----';
export const CERT = '-----BEGIN CERTIFICATE-----\nMIIBuDCCAV6gAwIBAgIUFakeCertFakeCertFakeCertFakeCertFake\nFAKECERTFAKECERTFAKECERTFAKECERTFAKECERTFAKECERTFAKECE\n-----END CERTIFICATE-----';
export const KEY = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFakeKey1\nFAKEKEYFAKEKEYFAKEKEYFAKEKEYFAKEKEYFAKEKEYFAKEKEYFAKEK\n-----END PRIVATE KEY-----';
export const STATIC = '-----BEGIN OpenVPN Static key V1-----\n0123456789abcdef0123456789abcdef\nfedcba9876543210fedcba9876543210\n-----END OpenVPN Static key V1-----';
export const V2 = '-----BEGIN OpenVPN tls-crypt-v2 client key-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9w\n-----END OpenVPN tls-crypt-v2 client key-----';

export const BASE = ['client', 'dev tun', 'proto udp', 'remote vpn.example.edu 1194', 'nobind', 'remote-cert-tls server', 'verb 3'].join('\n');
export const INLINE = `${BASE}\n<ca>\n${CA}\n</ca>\n<cert>\n${CERT}\n</cert>\n<key>\n${KEY}\n</key>\n<tls-crypt>\n${STATIC}\n</tls-crypt>\n`;
