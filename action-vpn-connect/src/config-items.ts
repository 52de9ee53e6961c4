// The parsed form of an OpenVPN client config (.ovpn): what the parser (ovpn-config) produces and
// the policy (directive-policy) judges. Types only, so that neither of the two imports the other's types.

/** A line of the config: a directive (with its verbatim text) or an inline block. */
export type ConfigItem =
  | { kind: 'directive'; name: string; args: string[]; text: string; line: number }
  /** `items`: the directives inside a <connection> block, with their line numbers in the whole config. */
  | { kind: 'block'; name: string; body: string; line: number; items?: ConfigItem[] }
  | { kind: 'other'; text: string };

export interface ParsedConfig {
  items: ConfigItem[];
}
