/** A value in `architectureOptions` that the phi3 plugin does not accept. */
export class Phi3OptionError extends Error {
  readonly code = 'INVALID_OPTION' as const;
  /** The option's name. */
  readonly option: string;
  constructor(option: string, message: string) {
    super(message);
    this.name = 'Phi3OptionError';
    this.option = option;
  }
}
