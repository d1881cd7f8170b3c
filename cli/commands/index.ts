// Command registry: add a subcommand by writing cli/commands/<name>.ts and listing it here.
import type { Command } from '../command.js';
import { classify } from './classify.js';

export const commands: readonly Command[] = [classify];
