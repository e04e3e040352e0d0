import { PluginError } from '@quant/plugin-api';

/** A value in `architectureOptions` that the phi3 plugin does not accept (code `INVALID_OPTION`). */
export class Phi3OptionError extends PluginError {
  /** The option's name. */
  readonly option: string;
  constructor(option: string, message: string) {
    super('INVALID_OPTION', message);
    this.name = 'Phi3OptionError';
    this.option = option;
  }
}
